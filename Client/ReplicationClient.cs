using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace OrleansReplication.Client;

/// <summary>
/// A ready-made Orleans client for an OrleansReplication cluster: an Orleans client host with static
/// gateways (<see cref="ReplicationClientOptions.Gateways"/>), the typed State Replicators and the
/// item grains. Create one per process and share it (thread-safe). Code that has its own
/// <see cref="IClusterClient"/> uses <c>clientBuilder.AddStateReplication()</c> and
/// <see cref="GrainFactoryReplicationExtensions.GetReplicator{TItem}(IClusterClient, string, Func{TItem, ItemKey}?)"/> instead.
/// </summary>
public sealed class ReplicationClient : IAsyncDisposable
{
    private readonly IHost _host;

    private ReplicationClient(IHost host, ReplicationClientOptions options)
    {
        _host = host;
        Options = options;
        Cluster = host.Services.GetRequiredService<IClusterClient>();
        Context = GrainFactoryReplicationExtensions.ContextOf(Cluster, options);
    }

    /// <summary>The client's options.</summary>
    public ReplicationClientOptions Options { get; }

    /// <summary>The Orleans client: any grain call, <c>GetGrain&lt;IStateItemGrain&gt;("orders/o-1")</c> included.</summary>
    public IClusterClient Cluster { get; }

    internal ReplicationContext Context { get; }

    /// <summary>Starts an Orleans client host and waits until it reached a gateway and knows the partition count.</summary>
    /// <exception cref="ReplicaUnavailableException">No gateway answered within <see cref="ReplicationClientOptions.ConnectTimeout"/>.</exception>
    public static Task<ReplicationClient> ConnectAsync(ReplicationClientOptions options, CancellationToken cancellationToken = default) =>
        ConnectAsync(options, null, cancellationToken);

    /// <summary>Starts a client that logs through <paramref name="loggerFactory"/> and waits until it is connected.</summary>
    public static async Task<ReplicationClient> ConnectAsync(ReplicationClientOptions options, ILoggerFactory? loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var gateways = await ResolveAsync(options.Gateways, cancellationToken).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + options.ConnectTimeout;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        builder.UseOrleansClient(client => client
            .UseStaticClustering(gateways)
            .Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            })
            .UseConnectionRetryFilter((_, ct) => RetryConnectAsync(deadline, options.MinReconnectDelay, ct))

            // A call is never awaited longer than the whole request may take (retries included).
            .Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.RequestTimeout)
            .AddStateReplication(o => Copy(options, o)));
        var host = builder.Build();
        try
        {
            // Not a timeout token: Orleans keeps the start token for the connection's life. The
            // connection retry filter gives up at the connect deadline instead.
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            var client = new ReplicationClient(host, options);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            await client.Context.GetPartitionCountAsync(timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not ArgumentException)
        {
            await DisposeHostAsync(host).ConfigureAwait(false);
            throw new ReplicaUnavailableException(
                $"No gateway of [{string.Join(", ", options.Gateways)}] answered within {options.ConnectTimeout.TotalSeconds:0.#} s ({ex.Message}). Check that a silo runs and its gateway port is reachable.",
                options.MinReconnectDelay,
                ex);
        }
        catch
        {
            await DisposeHostAsync(host).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The State Replicator of <paramref name="component"/> for items whose key comes from <paramref name="keySelector"/> or a <see cref="StateKeyAttribute"/> property.</summary>
    /// <exception cref="InvalidRequestException"><paramref name="component"/> is not a valid component name.</exception>
    public IStateReplicator<TItem> GetReplicator<TItem>(string component, Func<TItem, ItemKey>? keySelector = null)
    {
        if (StateNames.ValidateComponent(component) is { } error)
        {
            throw new InvalidRequestException(error);
        }

        return new StateReplicator<TItem>(Context, component, keySelector ?? StateKeyAccessor<TItem>.Selector);
    }

    /// <summary>Gets a reference to a grain with a string key, as <see cref="IGrainFactory.GetGrain{TGrainInterface}(string, string?)"/>.</summary>
    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey)
        where TGrainInterface : IGrainWithStringKey =>
        Cluster.GetGrain<TGrainInterface>(primaryKey);

    /// <summary>Stops the Orleans client; calls in flight fail.</summary>
    public async ValueTask DisposeAsync()
    {
        Context.Dispose();
        await DisposeHostAsync(_host).ConfigureAwait(false);
    }

    private static async Task DisposeHostAsync(IHost host)
    {
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await host.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or ObjectDisposedException or OrleansException)
        {
            // Stopping a client whose gateways are gone: nothing to hand back.
        }

        host.Dispose();
    }

    // Orleans asks after each failed connection attempt: retry until the connect deadline.
    private static async Task<bool> RetryConnectAsync(DateTime deadline, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (DateTime.UtcNow + delay >= deadline)
        {
            return false;
        }

        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static async Task<IPEndPoint[]> ResolveAsync(IEnumerable<string> gateways, CancellationToken cancellationToken)
    {
        var endpoints = new List<IPEndPoint>();
        foreach (var gateway in gateways)
        {
            ReplicationClientOptions.TryParseGateway(gateway, out var host, out var port);
            if (IPAddress.TryParse(host, out var address))
            {
                endpoints.Add(new IPEndPoint(address, port));
                continue;
            }

            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            var first = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new ReplicaUnavailableException($"Gateway host '{host}' resolves to no address.", TimeSpan.FromSeconds(1));
            endpoints.Add(new IPEndPoint(first, port));
        }

        return [.. endpoints];
    }

    private static void Copy(ReplicationClientOptions from, ReplicationClientOptions to)
    {
        to.Gateways = from.Gateways;
        to.ClusterId = from.ClusterId;
        to.ServiceId = from.ServiceId;
        to.ClientId = from.ClientId;
        to.ConnectTimeout = from.ConnectTimeout;
        to.RequestTimeout = from.RequestTimeout;
        to.MinReconnectDelay = from.MinReconnectDelay;
        to.MaxReconnectDelay = from.MaxReconnectDelay;
        to.JsonSerializerOptions = from.JsonSerializerOptions;
    }
}
