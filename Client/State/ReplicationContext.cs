namespace OrleansReplication.Client;

/// <summary>
/// What the replicators of one grain factory (an Orleans client, or a silo's factory) share: the
/// options, the cached partition count, the calls over the partition grains with their retry
/// policy, the idempotency ids of writes, and the HTTP client of watches. Thread-safe.
/// </summary>
internal sealed class ReplicationContext
{
    // Written once by the first cluster info call that succeeds (the count never changes for the cluster's life).
    private int _partitionCount;
    private long _nextSequence;

    // The silos' HTTP endpoints from the last cluster info (replaced whole, read by watches): where a
    // watch continues when no grain call gets through (the client's only gateway died with its silo).
    private string[] _httpEndpoints = [];

    // How long a watch waits for fresh cluster info before it falls back to the endpoints it knows.
    private static readonly TimeSpan ClusterInfoWait = TimeSpan.FromSeconds(2);

    // Created on the first watch and shared by all (thread-safe); disposed with the owning client.
    private readonly Lazy<HttpClient> _http = new(() => new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) }) { Timeout = Timeout.InfiniteTimeSpan });

    /// <param name="grains">The grain factory (an Orleans client's, or a silo's).</param>
    /// <param name="options">The options.</param>
    /// <param name="losses">The client's lost gateway connections, where it watches them.</param>
    public ReplicationContext(IGrainFactory grains, ReplicationClientOptions options, ConnectionLosses? losses = null)
    {
        Grains = grains;
        Options = options;
        ClientId = options.ClientId + "." + Guid.NewGuid().ToString("N")[..12];
        Calls = new PartitionedCalls(grains, GetPartitionCountAsync, new RetryPolicy(options.RequestTimeout, options.MinReconnectDelay, options.MaxReconnectDelay), losses);
    }

    public IGrainFactory Grains { get; }

    public ReplicationClientOptions Options { get; }

    public PartitionedCalls Calls { get; }

    /// <summary>The client id of this context's idempotency ids (the options' id plus a per-instance suffix).</summary>
    public string ClientId { get; }

    public HttpClient Http => _http.Value;

    /// <summary>A fresh idempotency id: one per write, shared by its parts and retries.</summary>
    public IdempotencyId NextId() => new(ClientId, (ulong)Interlocked.Increment(ref _nextSequence));

    public async Task<int> GetPartitionCountAsync(CancellationToken cancellationToken)
    {
        var count = Volatile.Read(ref _partitionCount);
        if (count > 0)
        {
            return count;
        }

        var info = await GetClusterInfoAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _partitionCount, info.PartitionCount);
        return info.PartitionCount;
    }

    public Task<ClusterInfo> GetClusterInfoAsync(CancellationToken cancellationToken) =>
        Calls.RetryAsync(() => Grains.GetGrain<IClusterInfoGrain>(0).GetAsync(), cancellationToken);

    /// <summary>The HTTP API of a live silo (every silo's watch covers the whole cluster), <paramref name="avoid"/> last.</summary>
    public async Task<Uri> GetHttpEndpointAsync(Uri? avoid, CancellationToken cancellationToken)
    {
        var endpoints = Volatile.Read(ref _httpEndpoints);
        try
        {
            var info = await Grains.GetGrain<IClusterInfoGrain>(0).GetAsync().WaitAsync(ClusterInfoWait, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _partitionCount, info.PartitionCount);
            Volatile.Write(ref _httpEndpoints, info.HttpEndpoints);
            endpoints = info.HttpEndpoints;
        }
        catch (Exception ex) when (endpoints.Length > 0 && !cancellationToken.IsCancellationRequested && (ex is TimeoutException || PartitionedCalls.IsRetryable(ex) || ex is OrleansException))
        {
            // No grain call gets through now: continue on a silo known from before.
        }

        Uri? fallback = null;
        foreach (var endpoint in endpoints)
        {
            if (Uri.TryCreate(endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri))
            {
                if (uri != avoid)
                {
                    return uri;
                }

                fallback ??= uri;
            }
        }

        return fallback ?? throw new ReplicaUnavailableException("No silo announced an HTTP endpoint; watching needs one.", Options.MinReconnectDelay);
    }

    public void Dispose()
    {
        if (_http.IsValueCreated)
        {
            _http.Value.Dispose();
        }
    }
}
