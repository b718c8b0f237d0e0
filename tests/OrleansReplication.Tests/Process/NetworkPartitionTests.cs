using OrleansReplication.Testing.Processes.Network;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Processes.NetworkPartitions;
using Xunit.Abstractions;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Issue 16's network partitions: three silo processes, each in a network namespace of the test's
/// own (<see cref="IsolatedNetwork"/>), on PostgreSQL through the bridge; .NET clients in the root
/// namespace write unique values at <c>Applied</c>, recording every outcome. Each test cuts the
/// network (a silo from both peers, one way between two silos, a silo from the store), holds the
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
            var outcome = await run.HealAndCheckAsync();

            output.WriteLine($"Cut {victimId} (busiest primary) from both peers: every writer acknowledged again {resumed.TotalMilliseconds:0} ms after the cut; it exited {exited.TotalMilliseconds:0} ms after the cut; {outcome}");
            Assert.True(run.Watch.Dead.Keys.All(id => id == victimId), $"A silo that was not cut off was declared dead: {outcome.Dead}.{run.Logs()}");
            Assert.Contains("I have been told I am dead", victimLog, StringComparison.Ordinal);
            HistoryWorkload.AssertClean(outcome.Report, run.Logs());
        });
    }

    [Fact]
    public async Task OneWayCutBetweenTwoSilos_WritesGoOn_TheThirdIsNeverDeclaredDead_NothingAcknowledgedLost()
    {
        await using var run = await PartitionRun.StartAsync(fixture, _dataDir.Path, "netns-one-way");
        await run.GuardAsync(async () =>
        {
            var sender = await run.BusiestPrimaryAsync();
            var others = run.Silos.Values.Where(s => s != sender).OrderBy(PartitionRun.HostOf).ToList();
            var (receiver, bystander) = (others[0], others[1]);
            run.MarkCut();
            await Network.CutOneWayAsync(PartitionRun.HostOf(sender), PartitionRun.HostOf(receiver));

            var (resumed, stalled) = await run.HoldCutWatchingWritersAsync(CutHeld, $"cutting {sender.SiloId}'s packets to {receiver.SiloId}");

            // A silo declared dead reaches the store, so it must learn it and stop.
            await Wait.UntilAsync(() => run.Silos.Values.Where(s => run.Watch.IsDead(s.SiloId)).All(s => s.HasExited), Deadline, "every silo declared dead to stop");
            var held = run.SinceCut;
            var outcome = await run.HealAndCheckAsync();

            output.WriteLine($"Cut {sender.SiloId}'s packets (busiest primary) to {receiver.SiloId} for {held.TotalSeconds:0} s: {Resumed(resumed, stalled)}; {outcome}");
            Assert.False(run.Watch.IsDead(bystander.SiloId), $"{bystander.SiloId}, which no cut touched, was declared dead: {outcome.Dead}.{run.Logs()}");
            HistoryWorkload.AssertClean(outcome.Report, run.Logs());
            Assert.True(stalled is null, $"Writes stalled while the one-way cut lasted: {stalled}");
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

            // Applied writes need the standbys, not the store: they must go on.
            var (resumed, stalled) = await run.HoldCutWatchingWritersAsync(StoreCutHeld, $"cutting {victim.SiloId} from the store");
            var held = run.SinceCut;
            var outcome = await run.HealAndCheckAsync();

            output.WriteLine($"Cut {victim.SiloId} (busiest primary) from PostgreSQL for {held.TotalSeconds:0} s: {Resumed(resumed, stalled)}; {outcome}");
            HistoryWorkload.AssertClean(outcome.Report, run.Logs());
            Assert.True(run.Watch.Dead.Count == 0, $"A silo its peers and clients could reach was declared dead: {outcome.Dead}; {Resumed(resumed, stalled)}.{run.Logs()}");
            Assert.True(stalled is null, $"Writes stalled while the silo was cut from the store: {stalled}");
        });
    }

    private static string Resumed(TimeSpan resumed, string? stalled) =>
        stalled is null ? $"every writer acknowledged again {resumed.TotalMilliseconds:0} ms after the cut" : $"writers stalled ({resumed.TotalSeconds:0} s after the cut: {stalled})";
}
