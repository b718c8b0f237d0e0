using OrleansReplication.Bench.Cluster;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Workloads;

/// <summary>One <see cref="ReplicationClient"/> per closed-loop worker (one connection each, as Redis gets one connection per worker).</summary>
internal sealed class ClientPool : IAsyncDisposable
{
    private readonly List<ReplicationClient> _clients;

    private ClientPool(List<ReplicationClient> clients)
    {
        _clients = clients;
    }

    public IReadOnlyList<ReplicationClient> Clients => _clients;

    public static async Task<ClientPool> ConnectAsync(SiloCluster cluster, int count, TimeSpan? requestTimeout = null) =>
        new(await cluster.ConnectClientsAsync(count, requestTimeout));

    /// <summary>W1's write loop (256 bytes to random keys of the keyspace) at <paramref name="safety"/>: measured after the warm-up for the duration, or until <paramref name="stop"/>.</summary>
    public Task<LoopResult> WriteLoopAsync(BenchSettings settings, string component, SafetyLevel safety, TimeSpan warmup, TimeSpan duration, CancellationToken stop = default)
    {
        var keys = W1ReplicatedWrites.Keys(settings.Keys);
        var replicators = _clients.Select(c => c.GetReplicator<byte[]>(component)).ToArray();
        var values = W1ReplicatedWrites.Values(_clients.Count);
        var options = new WriteOptions { Safety = safety };
        return ClosedLoop.RunAsync(_clients.Count, keys.Length, warmup, duration, (w, k) =>
            replicators[w].SetStateItemsAsync([KeyValuePair.Create(new ItemKey(keys[k]), values[w])], options), stop);
    }

    public ValueTask DisposeAsync() => new(ProcessCluster.DisposeAllAsync(_clients));
}
