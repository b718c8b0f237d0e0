using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

public sealed class TestClusterTests
{
    [Fact]
    public async Task TestCluster_KillAddRestart_MembershipFollowsEveryChange()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        Assert.Equal(3, cluster.Silos.Count);
        var victim = cluster.Silos[2];
        var victimId = await IdOfAsync(victim);

        // Killed: no graceful leave, so the survivors must detect the death themselves.
        await cluster.KillSiloAsync(victim);
        await cluster.WaitForLivenessToStabilizeAsync();
        var view = await SilosAsync(cluster.Silos[0]);
        Assert.Equal("dead", view.Single(s => s.GetProperty("id").GetString() == victimId).GetProperty("status").GetString());
        Assert.Equal(2, view.Count(s => s.GetProperty("status").GetString() == "active"));

        await cluster.StartAdditionalSiloAsync();
        await cluster.WaitForLivenessToStabilizeAsync();
        Assert.Equal(3, (await SilosAsync(cluster.Silos[0])).Count(s => s.GetProperty("status").GetString() == "active"));

        var before = await IdOfAsync(cluster.Silos[0]);
        var restarted = await cluster.RestartSiloAsync(cluster.Silos[0]);
        await cluster.WaitForLivenessToStabilizeAsync();
        var after = await IdOfAsync(restarted);
        Assert.NotEqual(before, after);
        Assert.Equal(before.Split('@')[0], after.Split('@')[0]);

    }

    private static async Task<string> IdOfAsync(InProcessSilo silo) =>
        (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!;

    private static async Task<List<JsonElement>> SilosAsync(InProcessSilo silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()];
}
