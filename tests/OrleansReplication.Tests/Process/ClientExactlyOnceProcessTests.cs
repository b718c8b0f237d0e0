using System.Collections.Concurrent;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Exactly-once through the .NET client across a real crash: every write creates a new item
/// (<see cref="Expect.Absent"/>), so a retry that the silos applied a second time would surface as
/// a version conflict. The busiest primary gets SIGKILL mid-stream; the client reroutes and
/// retries the writes cut off with the same request id, and none may conflict or go missing.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ClientExactlyOnceProcessTests : IDisposable
{
    private const int Partitions = 8;
    private const int Workers = 12;
    private const string Component = "once";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dataDir = new("or-proc-once-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task CreateOnlyWritesAcrossSigkill_RetriedWithTheirRequestIds_NoneConflictsNoneLost()
    {
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, Partitions);
        var acks = new ConcurrentQueue<(string Key, long Version)>();
        var conflicts = new ConcurrentQueue<string>();
        var ackedAfterKill = new bool[Workers];
        var killed = false;
        using var stop = new CancellationTokenSource();
        List<ReplicationClient> clients = [];
        try
        {
            clients = await ProcessCluster.ConnectClientsAsync(silos.Values, Workers, TimeSpan.FromSeconds(30));
            var workers = clients.Select((client, w) => Task.Run(async () =>
            {
                var replicator = client.GetReplicator<int>(Component);
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var key = new ItemKey($"w{w}-{n}");
                    try
                    {
                        var results = await replicator.ApplyAsync([ItemWrite<int>.Set(key, n, Expect.Absent)], new WriteOptions { Safety = SafetyLevel.Applied });
                        acks.Enqueue((key.Id, results[0].Version));
                        ackedAfterKill[w] |= Volatile.Read(ref killed);
                    }
                    catch (VersionConflictException ex)
                    {
                        conflicts.Enqueue($"{key.Id}: {ex.Message}");
                    }
                }
            })).ToList();

            await Wait.UntilAsync(() => acks.Count >= 200, Deadline, "200 acknowledged creates before the kill");
            var victim = await ProcessCluster.BusiestPrimaryAsync(silos.Values.First());
            await silos[victim].KillAsync();
            Volatile.Write(ref killed, true);
            await Wait.UntilAsync(() => ackedAfterKill.All(a => a), Deadline, "every client to have a create acknowledged after the SIGKILL");
            await stop.CancelAsync();
            await Task.WhenAll(workers);

            Assert.True(conflicts.IsEmpty, $"{conflicts.Count} creates were applied twice (their retry conflicted with the first attempt): {string.Join("; ", conflicts.Take(5))}");
            var replicator = clients[0].GetReplicator<int>(Component);
            var acked = acks.ToList();
            var items = (await replicator.GetStateItemsAsync(acked.Select(a => new ItemKey(a.Key)))).ToDictionary(i => i.Key.Id, i => i.Version);
            var lost = acked.Where(a => !items.TryGetValue(a.Key, out var version) || version != a.Version).Select(a => a.Key).ToList();
            Assert.True(lost.Count == 0, $"{lost.Count} of {acked.Count} acknowledged creates are missing or at another version: {string.Join(", ", lost.Take(10))}");
        }
        finally
        {
            await stop.CancelAsync();
            await ProcessCluster.DisposeAllAsync(clients);
            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }
}
