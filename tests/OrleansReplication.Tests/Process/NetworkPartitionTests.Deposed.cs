using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Processes.NetworkPartitions;

namespace OrleansReplication.Tests.Processes;

/// <summary>A silo declared dead that cannot read so in the membership table (it is cut from the store).</summary>
public sealed partial class NetworkPartitionTests
{
    [Fact]
    public async Task PrimaryCutFromTheStoreAndDeclaredDead_StopsOnItsOwnWhenDeposed_WritersResumeWithTheCutInPlace()
    {
        await using var run = await PartitionRun.StartAsync(fixture, _dataDir.Path, "netns-deposed");
        await run.GuardAsync(async () =>
        {
            // Paused past failure detection while cut from the store: the majority declares it dead
            // and promotes its standbys; resumed, it cannot read that it is dead (Orleans' own way to
            // stop it), but its standbys refuse its records for a newer epoch.
            var victim = await run.BusiestPrimaryAsync();
            var victimId = victim.SiloId;
            run.MarkCut();
            await Network.CutFromServiceAsync(PartitionRun.HostOf(victim), fixture.StorePort);
            await victim.PauseAsync();
            await Wait.UntilAsync(() => run.Watch.IsDead(victimId), Deadline, $"the majority to declare {victimId} dead");
            await victim.ResumeAsync();

            await victim.WaitForExitAsync(Deadline);
            var exited = run.SinceCut;
            var victimLog = victim.StandardOutput;
            await run.WaitForProgressAsync(PartitionRun.ProgressPerStep, "on the majority, the store cut still in place");
            var resumed = run.SinceCut;
            var outcome = await run.HealAndCheckAsync();

            output.WriteLine($"Paused {victimId} (busiest primary) cut from the store until declared dead, then resumed: it exited {exited.TotalMilliseconds:0} ms after the cut; writers made progress again by {resumed.TotalMilliseconds:0} ms; {outcome}");
            Assert.True(run.Watch.Dead.Keys.All(id => id == victimId), $"A silo that was not cut off was declared dead: {outcome.Dead}.{run.Logs()}");
            Assert.Contains("cannot read the membership table", victimLog, StringComparison.Ordinal);
            HistoryAssert.Clean(run.Workload, outcome.Report, run.Logs());
        });
    }
}
