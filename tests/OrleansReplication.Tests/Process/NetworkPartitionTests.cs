using OrleansReplication.Testing.Processes.Network;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Processes.NetworkPartitions;
using Xunit.Abstractions;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Issue 16's network partitions: three silo processes, each in a network namespace of the test's
/// own (<see cref="IsolatedNetwork"/>), on PostgreSQL through the bridge; .NET clients in the root
/// namespace write unique values at <c>Applied</c>, recording every outcome. Each test cuts the
/// network (a silo from both peers, a silo from the store), holds the
/// cut, heals, restarts what stopped, and checks the history: nothing acknowledged lost or applied
/// twice, every key linearizable. What the product did (detection, writers' stall) is printed;
/// the promises are asserted.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed partial class NetworkPartitionTests(ITestOutputHelper output, NetworkPartitionFixture fixture) : IDisposable, IClassFixture<NetworkPartitionFixture>
{
    private static readonly TimeSpan Deadline = PartitionRun.Deadline;

    // Many rounds of failure detection (a probe a second, two missed probes, a vote each): a cut
    // held this long has had whatever reaction it will get.
    private static readonly TimeSpan CutHeld = TimeSpan.FromSeconds(20);

    // Longer than Npgsql's 30 s command timeout: a command sent into the cut has timed out.
    private static readonly TimeSpan StoreCutHeld = TimeSpan.FromSeconds(35);
    private readonly TempDirectory _dataDir = new("or-netns-");

    private IsolatedNetwork Network => fixture.Network;

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task SiloCutFromBothPeers_MajorityDeclaresItDeadAndFailsOver_ItStops_NothingAcknowledgedLost()
    {
        await using var run = await PartitionRun.StartAsync(fixture, _dataDir.Path, "netns-symmetric");
        await run.GuardAsync(async () =>
        {
            var victim = await run.BusiestPrimaryAsync();
            var victimId = victim.SiloId;
            run.MarkCut();
            foreach (var peer in run.Silos.Values.Where(s => s != victim))
            {
                await Network.CutAsync(PartitionRun.HostOf(victim), PartitionRun.HostOf(peer));
            }

            await run.WaitForProgressAsync(1, $"after cutting {victimId} from its peers");
            var resumed = run.SinceCut;
            await Wait.UntilAsync(() => run.Watch.IsDead(victimId), Deadline, $"the majority to declare {victimId} dead");

            // It still reaches the store, where it reads that it was declared dead: it stops.
            await victim.WaitForExitAsync(Deadline);
            var exited = run.SinceCut;
            var victimLog = victim.StandardOutput;
            await run.WaitForProgressAsync(PartitionRun.ProgressPerStep, "on the majority, the cut still in place");
            var (stall, unknown) = await run.HealAndSettleAsync();
            var settled = run.SinceHealed;
            var report = await run.CheckAsync();

            output.WriteLine($"Cut {victimId} (busiest primary) from both peers: every writer acknowledged again {resumed.TotalMilliseconds:0} ms after the cut; declared dead: {run.Watch.Describe(run.CutAt)}; it exited {exited.TotalMilliseconds:0} ms after the cut; longest writer stall while cut {stall.TotalMilliseconds:0} ms, {unknown} unknown outcomes; healed, restarted and settled in {settled.TotalMilliseconds:0} ms. {report}");
            Assert.True(run.Watch.Dead.Keys.All(id => id == victimId), $"A silo that was not cut off was declared dead: {run.Watch.Describe(run.CutAt)}.{run.Logs()}");
            Assert.Contains("I have been told I am dead", victimLog, StringComparison.Ordinal);
            HistoryWorkload.AssertClean(report, run.Logs());
        });
    }

    [Fact]
    public async Task SiloCutFromTheStore_WritesGoOn_NoSiloDeclaredDead_NothingAcknowledgedLost()
    {
        await using var run = await PartitionRun.StartAsync(fixture, _dataDir.Path, "netns-store");
        await run.GuardAsync(async () =>
        {
            var victim = await run.BusiestPrimaryAsync();
            run.MarkCut();
            await Network.CutFromServiceAsync(PartitionRun.HostOf(victim), fixture.StorePort);

            await run.WaitForProgressAsync(1, $"after cutting {victim.SiloId} from the store");
            var resumed = run.SinceCut;
            await run.HoldCutAsync(StoreCutHeld);

            // Applied writes need the standbys, not the store: they must go on.
            await run.WaitForProgressAsync(PartitionRun.ProgressPerStep, "the cut from the store still in place");
            var dead = run.Watch.Describe(run.CutAt);
            var exited = string.Join(", ", run.Silos.Values.Where(s => s.HasExited).Select(s => s.SiloId));
            var (stall, unknown) = await run.HealAndSettleAsync();
            var settled = run.SinceHealed;
            var report = await run.CheckAsync();

            output.WriteLine($"Cut {victim.SiloId} (busiest primary) from PostgreSQL for {StoreCutHeld.TotalSeconds:0} s: every writer acknowledged again {resumed.TotalMilliseconds:0} ms after the cut; declared dead: {dead}; exited: {(exited.Length == 0 ? "none" : exited)}; longest writer stall while cut {stall.TotalMilliseconds:0} ms, {unknown} unknown outcomes; healed and settled in {settled.TotalMilliseconds:0} ms. {report}");
            Assert.True(run.Watch.Dead.Count == 0, $"A silo its peers and clients could reach was declared dead: {dead}.{run.Logs()}");
            HistoryWorkload.AssertClean(report, run.Logs());
        });
    }
}
