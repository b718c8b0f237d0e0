using OrleansReplication.Tests.Processes.NetworkPartitions;

namespace OrleansReplication.Tests.Processes;

/// <summary>A primary cut from the store alone: its peers and clients still reach it.</summary>
public sealed partial class NetworkPartitionTests
{
    private static readonly TimeSpan StoreCutHeld = TimeSpan.FromSeconds(35);

    [Fact]
    public async Task PrimaryCutFromTheStoreOnly_AppliedWritesGoOn_NoSiloDeclaredDead_NothingAcknowledgedLost()
    {
        await using var run = await PartitionRun.StartAsync(fixture, _dataDir.Path, "netns-store");
        await run.GuardAsync(async () =>
        {
            var victim = await run.BusiestPrimaryAsync();
            run.MarkCut();
            await Network.CutFromServiceAsync(PartitionRun.HostOf(victim), fixture.StorePort);

            // Applied writes rest on the in-sync standbys, not on the store; its membership row goes
            // stale (it cannot write IAmAlive), which must not make it dead nor unknown to its peers.
            var (resumed, stalled) = await run.HoldCutWatchingWritersAsync(StoreCutHeld, $"cutting {victim.SiloId} from the store");
            var held = run.SinceCut;
            var outcome = await run.HealAndCheckAsync();

            var writers = stalled is null ? $"every writer acknowledged again {resumed.TotalMilliseconds:0} ms after the cut" : $"writers stalled ({resumed.TotalSeconds:0} s after the cut: {stalled})";
            output.WriteLine($"Cut {victim.SiloId} (busiest primary) from PostgreSQL for {held.TotalSeconds:0} s: {writers}; {outcome}");
            HistoryAssert.Clean(run.Workload, outcome.Report, run.Logs());
            Assert.True(run.Watch.Dead.Count == 0, $"A silo its peers and clients could reach was declared dead: {outcome.Dead}; {writers}.{run.Logs()}");
            Assert.True(stalled is null, $"Writes stalled while the primary was cut from the store: {stalled}");
        });
    }
}
