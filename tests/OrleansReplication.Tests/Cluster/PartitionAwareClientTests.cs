using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// The client routes each item to its partition's primary from its cached map: batches over
/// several primaries go through in one call, and errors come back typed.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class PartitionAwareClientTests(OrleansClusterFixture fixture)
{
    private const int Partitions = ReplicationCluster.PartitionCount;

    private ReplicationCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task BatchAcrossPrimaries_SucceedsInOneCall_OnePartitionGrainCallEach()
    {
        var replicator = Cluster.Client.GetReplicator<int>("routed");
        var keys = Enumerable.Range(0, 64).Select(i => "k" + i).ToList();
        var primaries = new HashSet<ClusterSilo>();
        foreach (var partition in keys.Select(k => PartitionHasher.GetPartition("routed", k, Partitions)).Distinct())
        {
            primaries.Add((await Cluster.ReplicasOfAsync(partition)).Primary);
        }

        Assert.True(primaries.Count == 3, $"The batch should span all 3 primaries; it spans {primaries.Count}.");

        var results = await replicator.SetStateItemsAsync(keys.Select((k, i) => KeyValuePair.Create<ItemKey, int>(k, i)));

        Assert.Equal(keys, results.Select(r => r.Key.Id));
        Assert.All(results, r => Assert.True(r.Created));
        var read = await replicator.GetStateItemsAsync(keys.Select(k => new ItemKey(k)).Append(new ItemKey("absent")).Prepend(new ItemKey("missing")));
        Assert.Equal(keys, read.Select(r => r.Key.Id));
        Assert.Equal(Enumerable.Range(0, 64), read.Select(r => r.Value));

        // A listing covers every partition, in listing order, across pages cut at any size.
        var listed = new List<string>();
        string? after = null;
        do
        {
            var page = await replicator.GetAllStateItemsAsync(after, 7);
            Assert.True(page.Items.Count <= 7);
            listed.AddRange(page.Items.Select(i => i.Key.Id));
            after = page.NextAfter;
        }
        while (after is not null);

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed);
    }

    [Fact]
    public async Task BadInputAndConflicts_AcrossPrimaries_GetTypedErrors()
    {
        var replicator = Cluster.Client.GetReplicator<string>("typed");
        var keys = Enumerable.Range(0, 32).Select(i => "k" + i).ToList();
        var set = await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, string>(k, "v")));
        var current = set[5].Version;

        // One stale expectation in a batch over every primary: the other partitions apply, and
        // the conflict reports them.
        var writes = keys.Select(k => ItemWrite<string>.Set(new ItemKey(k), "w", k == "k5" ? Expect.Version(current + 1000) : Expect.Any));
        var conflict = await Assert.ThrowsAsync<VersionConflictException>(() => replicator.ApplyAsync(writes));
        var stale = Assert.Single(conflict.Conflicts);
        Assert.Equal("k5", stale.Key.Id);
        Assert.Equal(current, stale.CurrentVersion);
        var conflicted = PartitionHasher.GetPartition("typed", "k5", Partitions);
        var expectedApplied = keys.Where(k => PartitionHasher.GetPartition("typed", k, Partitions) != conflicted).Order(StringComparer.Ordinal);
        Assert.Equal(expectedApplied, conflict.Applied.Select(a => a.Key.Id).Order(StringComparer.Ordinal));

        await Assert.ThrowsAsync<InvalidRequestException>(() => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>(new ItemKey("bad\nid"), "v")]));
        await Assert.ThrowsAsync<ItemTooLargeException>(() => replicator.SetStateItemsAsync(keys.Take(3).Select(k => KeyValuePair.Create<ItemKey, string>(k, new string('x', 1536 * 1024)))));
    }
}
