using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Jepsen's method on real processes: clients write unique values while the silo leading the most
/// partitions gets SIGKILL; every invoke and outcome is recorded, every key read back, and the
/// history checked for lost acknowledged writes, duplicated effects and linearizability per key.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class FailoverHistoryTests : IDisposable
{
    private const int Workers = 4;
    private const int Keys = 200;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dataDir = new("or-proc-history-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task SigkillOfBusiestPrimaryUnderWrites_NoAcknowledgedWriteLostNoneAppliedTwiceEveryKeyLinearizable()
    {
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, partitions: 8);
        try
        {
            await RunAndCheckAsync(silos);
        }
        finally
        {
            foreach (var silo in silos.Values)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static async Task RunAndCheckAsync(Dictionary<string, SiloProcess> silos)
    {
        var first = silos.Values.First();
        await Wait.UntilAsync(() => EveryPartitionHasAStandbyAsync(first), Deadline, "every partition to have a primary and a standby");

        var history = new HistoryRecorder();
        var acknowledgedAfterKill = new bool[Workers];
        var killed = false;
        using var stop = new CancellationTokenSource();
        var clients = new List<ReplicationClient>();
        foreach (var _ in Enumerable.Range(0, Workers))
        {
            clients.Add(await ReplicationClient.ConnectAsync(Options(silos.Values)));
        }

        var workers = clients.Select((client, w) => Task.Run(async () =>
        {
            var replicator = client.GetReplicator<string>("history");
            var random = new Random(w);
            var key = $"k{random.Next(Keys)}";
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var value = $"w{w}-{n}";
                var id = history.Invoke(w, key, OperationKind.Write, value);
                try
                {
                    var results = await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], new WriteOptions { Safety = SafetyLevel.Applied });
                    history.Ok(id, results[0].Version);
                    acknowledgedAfterKill[w] |= Volatile.Read(ref killed);
                    key = $"k{random.Next(Keys)}";
                }
                catch (ReplicationException)
                {
                    // Unknown outcome (lost connection, timeout, partition moving): it may have been applied.
                    history.Timeout(id);
                }
            }
        })).ToList();

        await Wait.UntilAsync(() => history.Snapshot().Count(o => o.Outcome == OperationOutcome.Ok) >= 200, Deadline, "200 acknowledged writes before the kill");
        var map = await first.PartitionsAsync();
        var victimId = map.GroupBy(p => p.GetProperty("primary").GetString()!).OrderByDescending(g => g.Count()).First().Key;
        await silos[victimId].KillAsync();
        Volatile.Write(ref killed, true);
        await Wait.UntilAsync(() => acknowledgedAfterKill.All(a => a), Deadline, "every client to have a write acknowledged after the SIGKILL");
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var survivor = silos.First(s => s.Key != victimId).Value;
        await using (var reader = await ReplicationClient.ConnectAsync(Options([survivor])))
        {
            var replicator = reader.GetReplicator<string>("history");
            foreach (var key in history.Snapshot().Select(o => o.Key).Distinct())
            {
                // Partitions may still be moving (rebalancing after the kill): a read is safe to repeat.
                await Wait.UntilAsync(
                    async () =>
                    {
                        var id = history.Invoke(100, key, OperationKind.Read);
                        try
                        {
                            var items = await replicator.GetStateItemsAsync([new ItemKey(key)]);
                            history.Ok(id, items.Count == 0 ? 0 : items[0].Version, items.Count == 0 ? null : items[0].Value);
                            return true;
                        }
                        catch (ReplicationException)
                        {
                            history.Timeout(id);
                            return false;
                        }
                    },
                    Deadline,
                    $"a read of {key} after the failover");
            }
        }

        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        var report = HistoryChecker.Check(history.Snapshot());
        Assert.True(report.LostWrites.Count == 0, $"Acknowledged writes lost: {string.Join("; ", report.LostWrites.Take(5).Select(l => $"{l.Write.Key}={l.Write.Value}@{l.Write.Version}, read {l.Read.Value}@{l.Read.Version}"))}. {report}");
        Assert.True(report.DuplicatedEffects.Count == 0, $"Writes applied twice: {report}");
        Assert.True(report.NonLinearizableKeys.Count == 0, $"Not linearizable: {report}");
        Assert.Empty(report.UnknownKeys);
    }

    private static ReplicationClientOptions Options(IEnumerable<SiloProcess> silos) => new()
    {
        Gateways = [.. silos.Select(s => s.GatewayEndPoint.ToString())],
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    private static async Task<bool> EveryPartitionHasAStandbyAsync(SiloProcess silo)
    {
        var map = await silo.PartitionsAsync();
        return map.Count == 8 && map.All(p => p.GetProperty("primary").GetString() is { Length: > 0 } && p.GetProperty("standbys").GetArrayLength() > 0);
    }
}
