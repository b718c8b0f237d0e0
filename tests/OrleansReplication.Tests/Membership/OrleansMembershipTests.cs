using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Membership;

/// <summary>
/// Placement's view of the cluster comes from Orleans' membership and silo metadata: every silo
/// sees every other with its endpoints and attributes, a drain shows everywhere, and evidence of
/// a crash (a refused silo port) declares the silo dead through Orleans at once.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class OrleansMembershipTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ThreeSilos_EachSeesEveryOneActiveWithItsOrleansAddressAndEndpoints()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3, new Dictionary<string, string?> { ["Silo:Membership:Zone"] = "zone-a" });

        foreach (var silo in cluster.Silos)
        {
            var view = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray().ToList();
            Assert.Equal(3, view.Count(s => s.GetProperty("status").GetString() == "active"));
            foreach (var other in cluster.Silos)
            {
                var row = Assert.Single(view, s => s.GetProperty("httpEndpoint").GetString() == $"http://127.0.0.1:{other.HttpPort}");
                Assert.Equal("zone-a", row.GetProperty("zone").GetString());
                Assert.EndsWith(":" + other.SiloEndPoint.Port + "@" + row.GetProperty("id").GetString()!.Split('@')[1], row.GetProperty("orleansAddress").GetString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Drain_ShownAsShuttingDownOnEverySilo()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
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
        // Probes are parked far beyond the deadline: only the refused-port evidence can declare the victim dead.
        const string ParkedProbes = "00:10:00";
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2, new Dictionary<string, string?> { ["Silo:Membership:ProbeTimeout"] = ParkedProbes });

        // The victim is a real process on the same store, so SIGKILL leaves its membership row Active.
        await using var victim = await SiloProcess.StartAsync(new SiloLaunchOptions
        {
            DataDir = cluster.DataDir,
            Arguments = ["--partitions", "16"],
            Environment = new Dictionary<string, string> { ["Silo__Membership__ProbeTimeout"] = ParkedProbes },
        });
        var survivor = cluster.Silos[0].Services.GetRequiredService<MembershipService>();
        await Wait.UntilAsync(() => survivor.Current.Active.Any(s => s.Address.SiloId == victim.SiloId.Split('@')[0]), Deadline, "the survivor to see the victim process active");
        var victimAddress = survivor.Current.Active.Single(s => s.Address.SiloId == victim.SiloId.Split('@')[0]).Address;
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
