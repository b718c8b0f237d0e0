using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>The test cluster itself: our silos in Orleans' test cluster, and a silo process crashing among them, as the membership sees them.</summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ReplicationClusterTests
{
    [Fact]
    public async Task StopAddRestart_MembershipFollowsEveryChange()
    {
        await using var cluster = await ReplicationCluster.StartAsync(3);
        await cluster.WaitForLivenessToStabilizeAsync();
        var stopped = cluster.Silos[2];
        var stoppedId = ReplicationCluster.IdOf(stopped);

        await cluster.StopSiloAsync(stopped);
        await cluster.WaitForLivenessToStabilizeAsync();
        var view = await SilosAsync(cluster.Silos[0]);
        Assert.Equal("dead", StatusOf(view, stoppedId));
        Assert.Equal(2, view.Count(s => s.GetProperty("status").GetString() == "active"));

        await cluster.StartAdditionalSiloAsync();
        await cluster.WaitForLivenessToStabilizeAsync();
        Assert.Equal(3, (await SilosAsync(cluster.Silos[0])).Count(s => s.GetProperty("status").GetString() == "active"));

        var before = ReplicationCluster.IdOf(cluster.Silos[0]);
        var restarted = await cluster.RestartSiloAsync(cluster.Silos[0]);
        await cluster.WaitForLivenessToStabilizeAsync();
        var after = ReplicationCluster.IdOf(restarted);
        Assert.NotEqual(before, after);
        Assert.Equal(before.Split('@')[0], after.Split('@')[0]);
        Assert.Equal(after, (await restarted.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString());
    }

    [Fact]
    public async Task SiloProcessSigkilled_SurvivorsDetectTheDeathThemselves()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        await cluster.WaitForLivenessToStabilizeAsync();

        // A crash: no graceful leave, so the survivors must detect the death themselves.
        await victim.KillAsync();
        await cluster.WaitForLivenessToStabilizeAsync();
        foreach (var survivor in cluster.Silos)
        {
            var view = await SilosAsync(survivor);
            Assert.Equal("dead", StatusOf(view, victim.SiloId));
            Assert.Equal(2, view.Count(s => s.GetProperty("status").GetString() == "active"));
        }
    }

    private static string? StatusOf(List<JsonElement> view, string id) =>
        view.Single(s => s.GetProperty("id").GetString() == id).GetProperty("status").GetString();

    private static async Task<List<JsonElement>> SilosAsync(ClusterSilo silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()];
}
