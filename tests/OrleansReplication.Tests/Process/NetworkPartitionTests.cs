using OrleansReplication.Testing.Processes.Network;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Processes.NetworkPartitions;
using Xunit.Abstractions;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Issue 16's network partitions: three silo processes, each in a network namespace of the test's
/// own (<see cref="IsolatedNetwork"/>), on PostgreSQL through the bridge; .NET clients in the root
/// namespace write unique values at <c>Applied</c>, recording every outcome. Each test cuts the
/// network, holds the cut, heals, restarts what stopped, and checks the history: nothing
/// acknowledged lost or applied twice, every key linearizable. What the product did (detection,
/// writers' stall) is printed; the promises are asserted: a symmetric cut (here), a one-way cut
/// between two silos (<c>.OneWay.cs</c>) and a deposed silo cut from the store (<c>.Deposed.cs</c>).
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed partial class NetworkPartitionTests(ITestOutputHelper output, NetworkPartitionFixture fixture) : IDisposable, IClassFixture<NetworkPartitionFixture>
{
    private static readonly TimeSpan Deadline = PartitionRun.Deadline;

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
            HistoryAssert.Clean(run.Workload, outcome.Report, run.Logs());
        });
    }
}
