using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// A write's retry after its primary crashed (a real silo process, SIGKILL) reaches the promoted
/// standby (through the partition grain, placed afresh), which answers the first attempt's result
/// instead of applying it again.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ExactlyOnceFailoverTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task RetryAfterPrimaryKilled_NewPrimaryAnswersOriginalResult_VersionNotBumped()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        var component = cluster.ComponentWithKeyLedBy("once", "k", victim.SiloId);
        var partition = PartitionHasher.GetPartition(component, "k", ReplicationCluster.PartitionCount);
        var id = new IdempotencyId("failover-client", 42);
        ItemWriteData[] writes =
        [
            new("k", Encoding.UTF8.GetBytes("{\"n\":1}"), Expect.Any),
            new("k", null, Expect.Exists),
            new("k", Encoding.UTF8.GetBytes("{\"n\":2}"), Expect.Absent),
        ];

        var first = await cluster.Client.GetGrain<IPartitionGrain>(partition).ApplyAsync(component, writes, SafetyLevel.Applied, id);

        await victim.KillAsync();
        var retry = await RetryUntilAppliedAsync(cluster, partition, component, writes, id);

        Assert.Equal(first, retry);
        using var get = await cluster.Silos[0].Http.GetAsync($"v1/components/{component}/items/k");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal($"\"{first[2].Version}\"", get.Headers.ETag?.Tag);
        Assert.Equal("{\"n\":2}", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AckLostInTheCrash_CreateOnlyRetry_SucceedsOnceNeverConflicts()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        var component = cluster.ComponentWithKeyLedBy("once", "lost", victim.SiloId);
        var partition = PartitionHasher.GetPartition(component, "lost", ReplicationCluster.PartitionCount);

        // Create-only: applied twice, the second application would be a version conflict.
        var id = new IdempotencyId("lost-ack-client", 1);
        ItemWriteData[] writes = [new("lost", Encoding.UTF8.GetBytes("1"), Expect.Absent)];

        // The first attempt is sent and its answer never read: the primary dies with it in flight or applied.
        _ = cluster.Client.GetGrain<IPartitionGrain>(partition).ApplyAsync(component, writes, SafetyLevel.Applied, id);
        await victim.KillAsync();

        var retry = await RetryUntilAppliedAsync(cluster, partition, component, writes, id);
        var again = await RetryUntilAppliedAsync(cluster, partition, component, writes, id);

        var result = Assert.Single(retry);
        Assert.True(result.Created, $"the retry answered {result}");
        Assert.Equal(retry, again);
        using var get = await cluster.Silos[0].Http.GetAsync($"v1/components/{component}/items/lost");
        Assert.Equal($"\"{result.Version}\"", get.Headers.ETag?.Tag);
    }

    /// <summary>Calls the partition grain from each surviving silo until one call goes through (the others fail while the partition moves).</summary>
    private static async Task<WriteResult[]> RetryUntilAppliedAsync(ReplicationCluster cluster, int partition, string component, ItemWriteData[] writes, IdempotencyId id)
    {
        WriteResult[]? results = null;
        var last = "nothing yet";
        await Wait.UntilAsync(
            async () =>
            {
                foreach (var silo in cluster.Silos)
                {
                    try
                    {
                        var grains = silo.Services.GetRequiredService<Orleans.IGrainFactory>();
                        results = await grains.GetGrain<IPartitionGrain>(partition).ApplyAsync(component, writes, SafetyLevel.Applied, id).WaitAsync(TimeSpan.FromSeconds(5));
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
