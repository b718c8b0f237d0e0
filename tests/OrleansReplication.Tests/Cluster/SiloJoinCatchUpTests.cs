using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Client;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>A silo that joins a cluster holding data takes its share of standbys and its warm copies catch up while writes go on.</summary>
[Collection(SerialClusterCollection.Name)]
public sealed class SiloJoinCatchUpTests
{
    private const int Partitions = ReplicationCluster.PartitionCount;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SiloJoinsAfterWrites_TakesStandbysAndCatchesUpWhileWritesGoOn()
    {
        await using var cluster = await ReplicationCluster.StartAsync(2);
        await cluster.WaitForReplicationToStabilizeAsync();
        var replicator = cluster.Client.GetReplicator<int>("late");
        // 100,000 items, one batch per partition (a batch must stay within one primary's partitions).
        foreach (var group in Enumerable.Range(0, 100_000).GroupBy(i => PartitionHasher.GetPartition("late", "k" + i, Partitions)))
        {
            foreach (var chunk in group.Chunk(5_000))
            {
                await replicator.SetStateItemsAsync(chunk.Select(i => KeyValuePair.Create<ItemKey, int>("k" + i, i)));
            }
        }

        using var stopWriter = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var n = 0;
            while (!stopWriter.IsCancellationRequested)
            {
                try
                {
                    await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("w" + (n % 100), n)]);
                    n++;

                    // Steady (about 100 writes/s), not flat out: the client reaches primaries
                    // directly, and an unpaced loop on a loaded 2-core machine starves the silos'
                    // heartbeats (1 s death timeout here) and the joiner's catch-up.
                    await Task.Delay(10);
                }
                catch (ReplicationException)
                {
                    // Partitions move while the joiner takes its share; the writer goes on.
                }
            }

            return n;
        });

        var joiner = await cluster.StartAdditionalSiloAsync();
        var joinerId = ReplicationCluster.IdOf(joiner);
        int written;
        try
        {
            await Wait.UntilAsync(
                async () => (await PartitionViews.PartitionsAsync(joiner.Http)).Count(p => p.GetProperty("standbys").EnumerateArray().Any(s => s.GetProperty("silo").GetString() == joinerId)) >= Partitions / 4,
                Deadline,
                "the joining silo to take its share of standbys");
            await cluster.WaitForReplicationToStabilizeAsync(Deadline);
        }
        finally
        {
            stopWriter.Cancel();
            written = await writer;
        }

        Assert.True(written > 0, "The writer never wrote during the catch-up.");
        await cluster.WaitForReplicationToStabilizeAsync(Deadline);
        var joinerCopies = joiner.Services.GetRequiredService<StandbyHost>();
        foreach (var partition in await PartitionViews.PartitionsAsync(joiner.Http))
        {
            if (!partition.GetProperty("standbys").EnumerateArray().Any(s => s.GetProperty("silo").GetString() == joinerId))
            {
                continue;
            }

            var id = partition.GetProperty("id").GetInt32();
            var (primary, _) = await cluster.ReplicasOfAsync(id);
            var source = primary.Services.GetRequiredService<PartitionManager>().Partitions[id];
            await Wait.UntilAsync(() => Task.FromResult(joinerCopies.Find(id)?.AppliedSequence == source.LastSequence), Deadline, $"partition {id}'s copy on the joiner to reach the primary's sequence");
            Assert.Equal(source.Items.Count, joinerCopies.Find(id)!.Items.Count);
        }
    }
}
