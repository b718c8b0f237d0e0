using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>Replication between real silos over the silo transport: the standby's warm copy is inspected in memory.</summary>
[Collection(SerialClusterCollection.Name)]
public sealed class WarmStandbyTests
{
    private const int Partitions = 16;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Write_AckedAtApplied_AlreadyInStandbysWarmCopy()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
        await cluster.WaitForReplicationToStabilizeAsync();
        var replicator = cluster.Client.GetReplicator<int>("warm");

        for (var i = 0; i < 100; i++)
        {
            var id = "k" + i;
            var result = (await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(id, i)], new WriteOptions { Safety = SafetyLevel.Applied }))[0];

            var partition = PartitionHasher.GetPartition("warm", id, Partitions);
            var (primary, standbys) = await cluster.ReplicasOfAsync(partition);
            var copy = Assert.Single(standbys).Services.GetRequiredService<StandbyHost>().Find(partition)?.Items.Get(new ItemAddress("warm", string.Empty, id));
            if (copy is null)
            {
                var source = primary.Services.GetRequiredService<PartitionManager>().Partitions[partition];
                var links = string.Join("; ", source.Links.Select(l => $"{l.Name} state={l.State} inSync={l.InSync} sent={l.SentSequence} applied={l.AppliedSequence}"));
                Assert.Fail($"Item {id} (partition {partition}, version {result.Version}) was acknowledged at Applied but is not in the standby's warm copy. "
                    + $"Primary last={source.LastSequence} durable={source.DurableSequence} epoch={source.Epoch}; links: [{links}].");
            }

            Assert.Equal(result.Version, copy.Version);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(copy.Json));
        }
    }

    [Fact]
    public async Task SiloJoinsAfterWrites_TakesStandbysAndCatchesUpWhileWritesGoOn()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
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
        var joinerId = (await joiner.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString();
        int written;
        try
        {
            await Wait.UntilAsync(
                async () => (await PartitionsAsync(joiner)).Count(p => p.GetProperty("standbys").EnumerateArray().Any(s => s.GetProperty("silo").GetString() == joinerId)) >= Partitions / 4,
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
        foreach (var partition in await PartitionsAsync(joiner))
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

    private static async Task<List<JsonElement>> PartitionsAsync(InProcessSilo silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];
}
