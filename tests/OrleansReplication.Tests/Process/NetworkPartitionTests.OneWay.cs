using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Processes.NetworkPartitions;

namespace OrleansReplication.Tests.Processes;

/// <summary>A link broken one way between two live silos, which Orleans' indirect probes do not see.</summary>
public sealed partial class NetworkPartitionTests
{
    [Fact]
    public async Task OneWayCutBetweenTwoSilos_OneOfThemIsDeclaredDead_WritersResumeWithTheCutInPlace_NothingAcknowledgedLost()
    {
        await using var run = await PartitionRun.StartAsync(fixture, _dataDir.Path, "netns-one-way");
        await run.GuardAsync(async () =>
        {
            // The busiest primary's packets to one peer vanish: TCP between the two breaks both ways,
            // yet each still reaches the third silo, so Orleans' probes through it keep both alive.
            var victim = await run.BusiestPrimaryAsync();
            var peer = run.Silos.Values.First(s => s != victim);
            var (victimId, peerId) = (victim.SiloId, peer.SiloId);
            run.MarkCut();
            await Network.CutOneWayAsync(PartitionRun.HostOf(victim), PartitionRun.HostOf(peer));

            // Calls across the cut would hang for as long as it lasts: one of the two must go
            // (Membership:UnreachablePeerDeathDelay, 10 s), and the writers go on without it.
            await Wait.UntilAsync(() => run.Watch.IsDead(victimId) || run.Watch.IsDead(peerId), Deadline, $"{victimId} or {peerId} to be declared dead");
            var declared = run.SinceCut;
            var dead = run.Watch.IsDead(victimId) ? victim : peer;
            await dead.WaitForExitAsync(Deadline);
            var deadLog = dead.StandardOutput;
            await run.WaitForProgressAsync(PartitionRun.ProgressPerStep, "with the one-way cut still in place");
            var resumed = run.SinceCut;
            var outcome = await run.HealAndCheckAsync();

            output.WriteLine($"One-way cut {victimId} (busiest primary) -> {peerId}: {dead.SiloId} declared dead {declared.TotalMilliseconds:0} ms after the cut; every writer made progress again by {resumed.TotalMilliseconds:0} ms; {outcome}");
            Assert.True(run.Watch.Dead.Keys.All(id => id == victimId || id == peerId), $"A silo on neither side of the cut was declared dead: {outcome.Dead}.{run.Logs()}");
            Assert.Single(run.Watch.Dead.Keys, id => id == victimId || id == peerId);
            Assert.InRange(declared, TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(40));
            Assert.Contains("I have been told I am dead", deadLog, StringComparison.Ordinal);
            var survivorLog = (dead == victim ? peer : victim).StandardOutput;
            Assert.Contains("answered none of this silo's pings", survivorLog, StringComparison.Ordinal);
            HistoryAssert.Clean(run.Workload, outcome.Report, run.Logs());
        });
    }
}
