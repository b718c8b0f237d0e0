using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>A write's retry after its primary crashed reaches the promoted standby (through the partition grain, placed afresh), which answers the first attempt's result instead of applying it again.</summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ExactlyOnceFailoverTests
{
    private const string Component = "once";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task RetryAfterPrimaryKilled_NewPrimaryAnswersOriginalResult_VersionNotBumped()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync();
        var partition = PartitionHasher.GetPartition(Component, "k", cluster.Silos[0].Services.GetRequiredService<PartitionManager>().PartitionCount);
        var (primary, _) = await cluster.ReplicasOfAsync(partition);
        var id = new IdempotencyId("failover-client", 42);
        ItemWriteData[] writes =
        [
            new("k", Encoding.UTF8.GetBytes("{\"n\":1}"), Expect.Any),
            new("k", null, Expect.Exists),
            new("k", Encoding.UTF8.GetBytes("{\"n\":2}"), Expect.Absent),
        ];

        var first = await Grains(primary).GetGrain<IPartitionGrain>(partition).ApplyAsync(Component, writes, SafetyLevel.Applied, id);

        await cluster.KillSiloAsync(primary);
        var retry = await RetryUntilAppliedAsync(cluster, partition, writes, id);

        Assert.Equal(first, retry);
        var survivor = cluster.Silos.First(s => s != primary);
        using var get = await survivor.Http.GetAsync($"v1/components/{Component}/items/k");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal($"\"{first[2].Version}\"", get.Headers.ETag?.Tag);
        Assert.Equal("{\"n\":2}", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AckLostInTheCrash_CreateOnlyRetry_SucceedsOnceNeverConflicts()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync();
        var partition = PartitionHasher.GetPartition(Component, "lost", cluster.Silos[0].Services.GetRequiredService<PartitionManager>().PartitionCount);
        var (primary, _) = await cluster.ReplicasOfAsync(partition);

        // Create-only: applied twice, the second application would be a version conflict.
        var id = new IdempotencyId("lost-ack-client", 1);
        ItemWriteData[] writes = [new("lost", Encoding.UTF8.GetBytes("1"), Expect.Absent)];

        // The first attempt is sent and its answer never read: the primary dies with it in flight or applied.
        _ = Grains(primary).GetGrain<IPartitionGrain>(partition).ApplyAsync(Component, writes, SafetyLevel.Applied, id);
        await cluster.KillSiloAsync(primary);

        var retry = await RetryUntilAppliedAsync(cluster, partition, writes, id);
        var again = await RetryUntilAppliedAsync(cluster, partition, writes, id);

        var result = Assert.Single(retry);
        Assert.True(result.Created, $"the retry answered {result}");
        Assert.Equal(retry, again);
        using var get = await cluster.Silos.First(s => s != primary).Http.GetAsync($"v1/components/{Component}/items/lost");
        Assert.Equal($"\"{result.Version}\"", get.Headers.ETag?.Tag);
    }

    private static Orleans.IGrainFactory Grains(InProcessSilo silo) => silo.Services.GetRequiredService<Orleans.IGrainFactory>();

    /// <summary>Calls the partition grain from each surviving silo until one call goes through (the others fail while the partition moves).</summary>
    private static async Task<WriteResult[]> RetryUntilAppliedAsync(TestCluster cluster, int partition, ItemWriteData[] writes, IdempotencyId id)
    {
        WriteResult[]? results = null;
        var last = "nothing yet";
        await Wait.UntilAsync(
            async () =>
            {
                foreach (var silo in cluster.Silos.Where(s => !s.IsStopped))
                {
                    try
                    {
                        results = await Grains(silo).GetGrain<IPartitionGrain>(partition).ApplyAsync(Component, writes, SafetyLevel.Applied, id).WaitAsync(TimeSpan.FromSeconds(5));
                        return true;
                    }
                    catch (Exception ex) when (PartitionedCalls.IsRetryable(ex))
                    {
                        last = ex.Message;
                    }
                }

                return false;
            },
            Deadline,
            $"a surviving silo to answer the retry (last answer: {last})");
        return results!;
    }
}
