using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// A primary's crash is ridden out within the request's deadline: the client corrects its stale
/// map and a batch over every partition goes through in one call. The crashed primary is a real
/// silo process killed with SIGKILL.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class PartitionAwareClientFailoverTests
{
    [Fact]
    public async Task PrimaryKilled_BatchOverEveryPartition_GoesThroughInOneCall()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        var keys = Enumerable.Range(0, 64).Select(i => "k" + i).ToList();
        var replicator = cluster.Client.GetReplicator<int>(cluster.ComponentWithKeyLedBy("reroute", keys[0], victim.SiloId));
        var before = await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, int>(k, 1)), new WriteOptions { Safety = SafetyLevel.Applied });

        await victim.KillAsync();

        // No retry loop here: the client refreshes its map, waits out the promotion and sends again.
        var after = await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, int>(k, 2)), new WriteOptions { Safety = SafetyLevel.Applied });

        Assert.All(keys.Zip(before, after), t => Assert.True(t.Third.Version > t.Second.Version, $"{t.First}: version {t.Third.Version} after failover is not above {t.Second.Version}."));
        var read = await replicator.GetStateItemsAsync(keys.Select(k => new ItemKey(k)));
        Assert.Equal(keys, read.Select(r => r.Key.Id));
        Assert.All(read, r => Assert.Equal(2, r.Value));
    }
}
