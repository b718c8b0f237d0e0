using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Membership;

/// <summary>
/// Changes of placement's view of the cluster: a drain shows everywhere, and evidence of a crash
/// (a refused silo port) declares the silo dead through Orleans at once.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class OrleansMembershipChangeTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Drain_ShownAsShuttingDownOnEverySilo()
    {
        await using var cluster = await ReplicationCluster.StartAsync(3);
        await cluster.WaitForLivenessToStabilizeAsync();
        var target = cluster.Silos[2].Services.GetRequiredService<SiloIdentity>().Address;

        Assert.True(await cluster.Silos[0].Services.GetRequiredService<MembershipService>().MarkDrainingAsync(target, CancellationToken.None));

        var views = cluster.Silos.Select(s => s.Services.GetRequiredService<MembershipService>()).ToList();
        foreach (var view in views)
        {
            await view.RefreshAsync(CancellationToken.None);
        }

        Assert.All(views, v => Assert.Equal(SiloStatus.ShuttingDown, v.Current.Silos.Single(s => s.Address == target).Status));
    }

    [Fact]
    public async Task Suspect_KilledSiloPortRefuses_DeclaredDeadThroughOrleansWithoutWaitingForProbes()
    {
        // Probes are parked far beyond the deadline (the victim process gets the cluster's
        // settings too): only the refused-port evidence can declare the victim dead.
        const string ParkedProbes = "00:10:00";
        await using var cluster = await ReplicationCluster.StartAsync(2, new Dictionary<string, string?> { ["Silo:Membership:ProbeTimeout"] = ParkedProbes }, siloProcesses: 1);

        // The victim is a real process on the same store, so SIGKILL leaves its membership row Active.
        var victim = cluster.SiloProcesses[0];
        var survivor = cluster.Silos[0].Services.GetRequiredService<MembershipService>();
        await Wait.UntilAsync(() => survivor.Current.Active.Any(s => s.Address.ToString() == victim.SiloId), Deadline, "the survivor to see the victim process active");
        var victimAddress = survivor.Current.Active.Single(s => s.Address.ToString() == victim.SiloId).Address;
        await victim.KillAsync();

        survivor.Suspect(victimAddress, "a replica call's connection was refused (test)");

        await Wait.UntilAsync(
            () => cluster.Silos.All(s => !s.Services.GetRequiredService<MembershipService>().Current.IsAlive(victimAddress)),
            Deadline,
            $"every survivor to see {victimAddress} dead");
        var events = cluster.Silos[0].Services.GetRequiredService<ClusterEventChannel>().Recent;
        Assert.Contains(events, e => e.Kind == ClusterEventKinds.SiloSuspected && e.Silo == victimAddress.ToString());
    }
}
