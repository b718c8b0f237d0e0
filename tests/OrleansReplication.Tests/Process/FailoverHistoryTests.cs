using OrleansReplication.Testing.Processes;
using OrleansReplication.Testing.Processes.Nemesis;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Jepsen's method on real processes: clients write unique values while the silo leading the most
/// partitions gets SIGKILL; every invoke and outcome is recorded, every key read back, and the
/// history checked for lost acknowledged writes, duplicated effects and linearizability per key;
/// a change-feed subscriber beside them must get every acknowledged write, once, in order.
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

        await using var workload = new HistoryWorkload("history", Keys, watchChanges: true);
        await workload.StartAsync(silos.Values, Workers);
        await Wait.UntilAsync(() => workload.Acknowledged() >= 200, Deadline, "200 acknowledged writes before the kill");
        var map = await first.PartitionsAsync();
        var victimId = map.GroupBy(p => p.GetProperty("primary").GetString()!).OrderByDescending(g => g.Count()).First().Key;
        await silos[victimId].KillAsync();
        await workload.WaitForProgressAsync(1, "after the SIGKILL");

        var report = await workload.StopAndCheckAsync(silos.First(s => s.Key != victimId).Value);
        HistoryAssert.Clean(workload, report, string.Empty);
    }

    private static async Task<bool> EveryPartitionHasAStandbyAsync(SiloProcess silo)
    {
        var map = await silo.PartitionsAsync();
        return map.Count == 8 && map.All(p => p.GetProperty("primary").GetString() is { Length: > 0 } && p.GetProperty("standbys").GetArrayLength() > 0);
    }
}
