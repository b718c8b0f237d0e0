using OrleansReplication.Bench.Cluster;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// The closed-loop workers' <see cref="ReplicationClient"/>s: by default one per worker (one
/// connection each, as Redis gets one connection per worker); with <c>--clients N</c>, N shared by
/// the workers (worker w uses client w mod N), as an Orleans application shares its one client.
/// </summary>
internal sealed class ClientPool : IAsyncDisposable
{
    private readonly List<ReplicationClient> _clients;
    private readonly int _workers;

    private ClientPool(List<ReplicationClient> clients, int workers)
    {
        _clients = clients;
        _workers = workers;
    }

    /// <summary>Worker w's client (workers share them when there are fewer clients than workers).</summary>
    public ReplicationClient For(int worker) => _clients[worker % _clients.Count];

    /// <summary>The closed-loop workers.</summary>
    public int Workers => _workers;

    public static async Task<ClientPool> ConnectAsync(SiloCluster cluster, BenchSettings settings, TimeSpan? requestTimeout = null) =>
        new(await cluster.ConnectClientsAsync(Math.Clamp(settings.Clients ?? settings.Concurrency, 1, settings.Concurrency), requestTimeout), settings.Concurrency);

    /// <summary>W1's write loop (256 bytes to random keys of the keyspace) at <paramref name="safety"/>: measured after the warm-up for the duration, or until <paramref name="stop"/>.</summary>
    public Task<LoopResult> WriteLoopAsync(BenchSettings settings, string component, SafetyLevel safety, TimeSpan warmup, TimeSpan duration, CancellationToken stop = default)
    {
        var keys = W1ReplicatedWrites.Keys(settings.Keys);
        var replicators = Enumerable.Range(0, _workers).Select(w => For(w).GetReplicator<byte[]>(component)).ToArray();
        var values = W1ReplicatedWrites.Values(_workers);
        var options = new WriteOptions { Safety = safety };
        return ClosedLoop.RunAsync(_workers, keys.Length, warmup, duration, (w, k) =>
            replicators[w].SetStateItemsAsync([KeyValuePair.Create(new ItemKey(keys[k]), values[w])], options), stop);
    }

    /// <summary>
    /// The ceiling: the same closed loop calling a trivial grain (<see cref="IEchoGrain"/>, 256
    /// bytes in, an int back) on the same silos through the same clients. The grains are keyed by
    /// the key index modulo 256 so that they are all active after the warm-up.
    /// </summary>
    public Task<LoopResult> EchoLoopAsync(BenchSettings settings, TimeSpan warmup, TimeSpan duration)
    {
        var grains = Enumerable.Range(0, _workers).Select(w => Enumerable.Range(0, EchoGrains).Select(g => For(w).Cluster.GetGrain<IEchoGrain>(g)).ToArray()).ToArray();
        var values = W1ReplicatedWrites.Values(_workers);
        return ClosedLoop.RunAsync(_workers, settings.Keys, warmup, duration, (w, k) => grains[w][k % EchoGrains].EchoAsync(values[w]));
    }

    private const int EchoGrains = 256;

    public ValueTask DisposeAsync() => new(ProcessCluster.DisposeAllAsync(_clients));
}
