using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

public sealed class ClusterEndpointsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ClusterEndpoints_OneSilo_ListsItselfLeadingEveryPartition()
    {
        using var dir = new TempDirectory("or-cluster-");
        await using var silo = await InProcessSilo.StartAsync(dir.Path, new Dictionary<string, string?> { ["Silo:PartitionCount"] = "8" });

        var self = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString();
        var silos = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray().ToList();
        var partitions = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray().ToList();

        var me = Assert.Single(silos);
        Assert.Equal(self, me.GetProperty("id").GetString());
        Assert.Equal("active", me.GetProperty("status").GetString());
        Assert.False(me.TryGetProperty("lastProbeAnswer", out _)); // a silo does not probe itself
        Assert.Equal(silo.GatewayEndPoint.ToString(), me.GetProperty("gatewayEndpoint").GetString());
        Assert.Equal(8, partitions.Count);
        Assert.All(partitions, p =>
        {
            Assert.Equal(self, p.GetProperty("primary").GetString());
            Assert.Equal(1, p.GetProperty("epoch").GetInt64());
            Assert.Empty(p.GetProperty("standbys").EnumerateArray());
            Assert.Equal(0, p.GetProperty("lastSequence").GetInt64());
        });
    }

    [Fact]
    public async Task ClusterEndpoints_SecondSiloJoinsSharedStore_ReplicasSpreadOverBoth()
    {
        await using var cluster = await ReplicationCluster.StartAsync(1);
        var first = cluster.Silos[0];
        var second = await cluster.StartAdditionalSiloAsync();
        var firstId = ReplicationCluster.IdOf(first);
        var secondId = ReplicationCluster.IdOf(second);
        await Wait.UntilAsync(
            async () =>
            {
                // Whichever of the two leads a partition (primaries are handed off to even them
                // out), the other holds its standby.
                var partitions = (await first.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray().ToList();
                return partitions.All(p =>
                {
                    var primary = p.GetProperty("primary").GetString();
                    var standbys = p.GetProperty("standbys").EnumerateArray().Select(s => s.GetProperty("silo").GetString()).ToList();
                    return standbys.Count == 1 && ((primary == firstId && standbys[0] == secondId) || (primary == secondId && standbys[0] == firstId));
                }) && partitions.Any(p => p.GetProperty("primary").GetString() == secondId);
            },
            Deadline,
            "every partition to have its primary on one silo and its standby on the other, with primaries on both");

        var silos = (await second.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray().ToList();
        Assert.Equal(2, silos.Count(s => s.GetProperty("status").GetString() == "active"));

        // Each silo reports the other's Orleans address (membership is Orleans').
        Assert.Contains(silos, s => s.GetProperty("id").GetString() == firstId && s.GetProperty("orleansAddress").GetString() is { Length: > 0 });

        await cluster.StopSiloAsync(second);
        await Wait.UntilAsync(
            async () => (await first.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()
                .Any(s => s.GetProperty("id").GetString() == secondId && s.GetProperty("status").GetString() == "dead"),
            Deadline,
            "the first silo to see the stopped second silo as dead");
    }
}
