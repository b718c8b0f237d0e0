using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// The primary silo crashes (a real silo process, SIGKILL): its partitions continue on their
/// standbys' warm copies, and no acknowledged write is lost.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class FailoverTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PrimaryKilled_StandbysPromoted_NoAckedWriteLostAndClientReroutes()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        Assert.Contains(Enumerable.Range(0, ReplicationCluster.PartitionCount), p => cluster.PrimaryOf(p) == victim.SiloId);
        var replicator = cluster.Client.GetReplicator<int>("failover");
        var acked = new Dictionary<string, long>();
        for (var i = 0; i < 300; i++)
        {
            var result = await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("k" + i, i)], new WriteOptions { Safety = SafetyLevel.Applied });
            acked["k" + i] = result[0].Version;
        }

        await victim.KillAsync();

        // Writes go on: each is retried until the cluster takes it (the client drops the dead
        // gateway and follows partitions to their new primaries).
        for (var i = 0; i < 300; i += 10)
        {
            var key = "k" + i;
            var version = await WithRetriesAsync(async () => (await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(key, -i)], new WriteOptions { Safety = SafetyLevel.Applied }))[0].Version);
            Assert.True(version > acked[key], $"{key} got version {version} after failover, not above its acknowledged {acked[key]}: a version was reused.");
            acked[key] = version;
        }

        var byKey = new Dictionary<string, long>();
        foreach (var key in acked.Keys)
        {
            var item = await WithRetriesAsync(() => replicator.GetStateItemsAsync([key]));
            if (item.Count == 1)
            {
                byKey[key] = item[0].Version;
            }
        }

        var lost = acked.Where(a => !byKey.TryGetValue(a.Key, out var v) || v < a.Value).Select(a => a.Key).ToList();
        Assert.True(lost.Count == 0, $"Acknowledged writes lost after the primary's crash: {string.Join(", ", lost.Take(10))}");

        // The survivors lead every partition again, with in-sync standbys.
        await cluster.WaitForReplicationToStabilizeAsync();
    }

    private static async Task<T> WithRetriesAsync<T>(Func<Task<T>> action)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                return await action();
            }
            catch (ReplicationException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(50);
            }
        }
    }
}
