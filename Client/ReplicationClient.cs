using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansReplication.Client;

/// <summary>
/// A long-lived connection to an OrleansReplication cluster: typed State Replicators per
/// component and Orleans-style item grains. Create one per process and share it (thread-safe);
/// it routes each item to its partition's primary and follows partitions when silos come and go.
/// </summary>
public sealed partial class ReplicationClient : IGrainFactory, IAsyncDisposable
{
    private readonly GatewayPool _pool;
    private readonly PartitionMapCache _map = new();
    private readonly ILogger _logger;

    // Created on the first watch and shared by all (thread-safe); disposed with the client.
    private readonly Lazy<HttpClient> _http = new(() => new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) }) { Timeout = Timeout.InfiniteTimeSpan });

    private ReplicationClient(ReplicationClientOptions options, ILoggerFactory? loggerFactory)
    {
        options.Validate();
        Options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ReplicationClient>();
        _pool = new GatewayPool(options, _logger);
        _requestClientId = options.ClientId + "." + Guid.NewGuid().ToString("N")[..12];
    }

    /// <summary>The client's options.</summary>
    public ReplicationClientOptions Options { get; }

    /// <summary>Creates a client and waits until it is connected to a gateway and has the partition map.</summary>
    /// <exception cref="ReplicaUnavailableException">No gateway answered within <see cref="ReplicationClientOptions.ConnectTimeout"/>.</exception>
    public static Task<ReplicationClient> ConnectAsync(ReplicationClientOptions options, CancellationToken cancellationToken = default) =>
        ConnectAsync(options, null, cancellationToken);

    /// <summary>Creates a client that logs through <paramref name="loggerFactory"/> and waits until it is connected.</summary>
    public static async Task<ReplicationClient> ConnectAsync(ReplicationClientOptions options, ILoggerFactory? loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var client = new ReplicationClient(options, loggerFactory);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            await client.ConnectAnyAsync(timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new ReplicaUnavailableException(
                $"No gateway of [{string.Join(", ", options.Gateways)}] accepted a connection within {options.ConnectTimeout.TotalSeconds:0.#} s. Check that a silo runs and its gateway port is reachable.",
                options.MinReconnectDelay);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates a client that connects on its first request (used by dependency injection).</summary>
    public static ReplicationClient Create(ReplicationClientOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ReplicationClient(options, loggerFactory);
    }

    /// <summary>The State Replicator of <paramref name="component"/> for internally keyed items whose key comes from <paramref name="keySelector"/> or a <see cref="StateKeyAttribute"/> property.</summary>
    /// <exception cref="InvalidRequestException"><paramref name="component"/> is not a valid component name.</exception>
    public IStateReplicator<TItem> GetReplicator<TItem>(string component, Func<TItem, ItemKey>? keySelector = null)
    {
        if (StateNames.ValidateComponent(component) is { } error)
        {
            throw new InvalidRequestException(error);
        }

        return new StateReplicator<TItem>(this, component, keySelector ?? StateKeyAccessor<TItem>.Selector);
    }

    /// <summary>Gets a reference to a grain. Supported: <see cref="IStateItemGrain"/> (key from <see cref="StateItemGrainKey.Format"/>).</summary>
    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey)
        where TGrainInterface : IGrainWithStringKey
    {
        if (typeof(TGrainInterface) != typeof(IStateItemGrain))
        {
            throw new NotSupportedException($"The client can reach {nameof(IStateItemGrain)} grains; {typeof(TGrainInterface).Name} runs only inside a silo.");
        }

        var (component, key) = StateItemGrainKey.Parse(primaryKey);
        return (TGrainInterface)(object)new StateItemGrainReference(this, component, key);
    }

    /// <summary>Closes the connections; requests in flight fail with <see cref="ReplicaUnavailableException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_http.IsValueCreated)
        {
            _http.Value.Dispose();
        }

        await _pool.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The HTTP client of watches (no timeout: a watch lasts as long as its listener wants).</summary>
    internal HttpClient Http => _http.Value;

    /// <summary>
    /// The HTTP API of a reachable silo (every silo's watch covers the whole cluster), the silo
    /// behind <paramref name="avoid"/> last; and the gateway it was learned from.
    /// </summary>
    internal async Task<(Uri Endpoint, GatewayAddress Gateway)> GetHttpEndpointAsync(GatewayAddress? avoid, CancellationToken cancellationToken)
    {
        var connection = await _pool.GetAnyAsync(cancellationToken, avoid).ConfigureAwait(false);
        var endpoint = connection.Hello.HttpEndpoint;
        return endpoint is { Length: > 0 } && Uri.TryCreate(endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri)
            ? (uri, connection.Address)
            : throw new ReplicaUnavailableException($"The silo '{connection.Hello.SiloId}' did not announce its HTTP endpoint (an older silo); watching needs it.", Options.MinReconnectDelay);
    }

    // The first connection, retried with backoff until the caller's deadline; then the partition map.
    private async Task ConnectAnyAsync(CancellationToken cancellationToken)
    {
        var delay = Options.MinReconnectDelay;
        while (true)
        {
            try
            {
                await _pool.GetAnyAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (ReplicaUnavailableException)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Options.MaxReconnectDelay.Ticks));
            }
        }

        await RefreshMapAsync(cancellationToken).ConfigureAwait(false);
    }
}
