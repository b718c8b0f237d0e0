using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// A crashed silo (its connections reset, its port refusing) is declared dead by the refused
/// reconnect its peers try the moment the connection breaks, not at a probe tick nor after a
/// standing heartbeat: probe ticks, the suspicion confirm timeout and the death timeout are all
/// set far beyond the test's deadline, so only that path can declare it.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class FailureDetectionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SiloKilled_ReconnectRefusedAtOnce_DeclaredDeadWithoutTickOrStandingHeartbeat()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3, new Dictionary<string, string?>
        {
            ["Silo:Membership:ProbeInterval"] = "01:00:00",
            ["Silo:Membership:ProbeTimeout"] = "02:00:00",
            ["Silo:Membership:SuspicionConfirmTimeout"] = "00:10:00",
            ["Silo:Membership:DeathTimeout"] = "00:10:00",
        });
        var victim = cluster.Silos[0];
        var victimAddress = victim.Services.GetRequiredService<SiloIdentity>().Address;
        var survivors = cluster.Silos.Skip(1).ToList();
        var detectors = survivors.Select(s => s.Services.GetRequiredService<FailureDetector>()).ToList();

        // The probe loop is parked: one round by hand opens the connections whose break is watched.
        await Wait.UntilAsync(
            () =>
            {
                detectors.ForEach(d => d.ProbeAll());
                return detectors.All(d => d.Watches(victimAddress));
            },
            Deadline,
            "the survivors' probe connections to the victim");

        await cluster.KillSiloAsync(victim);

        var memberships = survivors.Select(s => s.Services.GetRequiredService<MembershipService>()).ToList();
        await Wait.UntilAsync(() => memberships.All(m => !m.Current.IsAlive(victimAddress)), Deadline, $"every survivor to see {victimAddress} dead");
        var declared = survivors.SelectMany(s => s.Services.GetRequiredService<ClusterEventChannel>().Recent)
            .Where(e => e.Kind == ClusterEventKinds.SiloDeclaredDead && e.Silo == victimAddress.ToString())
            .ToList();
        var reason = Assert.Single(declared, e => e.Reason.StartsWith("Declared dead by", StringComparison.Ordinal)).Reason;
        Assert.Contains("refused a connection", reason, StringComparison.Ordinal);
    }
}
