using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// The client routes each item to its partition's primary from its cached map: batches over
/// several primaries go through in one call, stale maps are corrected, and a primary's crash is
/// ridden out within the request's deadline.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class PartitionAwareClientTests
{
    private const int Partitions = 16;

    // Generous: the machine running the tests may be loaded well beyond its cores.
    private static readonly TimeSpan Stabilize = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task BatchAcrossPrimaries_SucceedsInOneCall_OnePartitionGrainCallEach()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster);
        var replicator = client.GetReplicator<int>("routed");
        var keys = Enumerable.Range(0, 64).Select(i => "k" + i).ToList();
        var primaries = new HashSet<InProcessSilo>();
        foreach (var partition in keys.Select(k => PartitionHasher.GetPartition("routed", k, Partitions)).Distinct())
        {
            primaries.Add((await cluster.ReplicasOfAsync(partition)).Primary);
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
    public async Task PrimaryKilled_BatchOverEveryPartition_GoesThroughInOneCall()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster, requestTimeout: Deadline);
        var replicator = client.GetReplicator<int>("reroute");
        var keys = Enumerable.Range(0, 64).Select(i => "k" + i).ToList();
        var before = await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, int>(k, 1)), new WriteOptions { Safety = SafetyLevel.Applied });

        var (victim, _) = await cluster.ReplicasOfAsync(PartitionHasher.GetPartition("reroute", keys[0], Partitions));
        await cluster.KillSiloAsync(victim);

        // No retry loop here: the client refreshes its map, waits out the promotion and sends again.
        var after = await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, int>(k, 2)), new WriteOptions { Safety = SafetyLevel.Applied });

        Assert.All(keys.Zip(before, after), t => Assert.True(t.Third.Version > t.Second.Version, $"{t.First}: version {t.Third.Version} after failover is not above {t.Second.Version}."));
        var read = await replicator.GetStateItemsAsync(keys.Select(k => new ItemKey(k)));
        Assert.Equal(keys, read.Select(r => r.Key.Id));
        Assert.All(read, r => Assert.Equal(2, r.Value));
    }

    [Fact]
    public async Task BadInputAndConflicts_AcrossPrimaries_GetTypedErrors()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster);
        var replicator = client.GetReplicator<string>("typed");
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

    private static Task<ReplicationClient> ConnectAsync(TestCluster cluster, TimeSpan? requestTimeout = null) =>
        ReplicationClient.ConnectAsync(new ReplicationClientOptions
        {
            Gateways = [.. cluster.Silos.Select(s => s.GatewayEndPoint.ToString())],
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(30),
        });
}
