using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>Replication between real silos over the silo transport: the standby's warm copy is inspected in memory.</summary>
public sealed class WarmStandbyTests
{
    private const int Partitions = 16;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Write_AckedAtApplied_AlreadyInStandbysWarmCopy()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
        var primary = cluster.Silos[0];
        var standbys = cluster.Silos[1].Services.GetRequiredService<StandbyHost>();
        await WaitAllStandbysInSyncAsync(primary);
        var replicator = cluster.Client.GetReplicator<int>("warm");

        for (var i = 0; i < 200; i++)
        {
            var id = "k" + i;
            var result = (await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(id, i)], new WriteOptions { Safety = SafetyLevel.Applied }))[0];

            var partition = PartitionHasher.GetPartition("warm", id, Partitions);
            var copy = standbys.Find(partition)?.Items.Get(new ItemAddress("warm", string.Empty, id));
            if (copy is null)
            {
                var source = primary.Services.GetRequiredService<PartitionManager>().Partitions[partition];
                var links = string.Join("; ", source.Links.Select(l => $"{l.Name} state={l.State} inSync={l.InSync} sent={l.SentSequence} applied={l.AppliedSequence}"));
                var replica = standbys.Find(partition);
                Assert.Fail($"Item {id} (partition {partition}, version {result.Version}) was acknowledged at Applied but is not in the standby's warm copy. "
                    + $"Primary last={source.LastSequence} durable={source.DurableSequence} epoch={source.Epoch}; links: [{links}]; standby applied={replica?.AppliedSequence} epoch={replica?.Epoch}.");
            }

            Assert.Equal(result.Version, copy!.Version);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(copy.Json));
        }
    }

    [Fact]
    public async Task SiloJoinsAfterWrites_TakesStandbysAndCatchesUpWhileWritesGoOn()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
        var primary = cluster.Silos[0];
        var replicator = cluster.Client.GetReplicator<int>("late");
        await replicator.SetStateItemsAsync(Enumerable.Range(0, 5_000).Select(i => KeyValuePair.Create<ItemKey, int>("k" + i, i)));

        using var stopWriter = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var n = 0;
            while (!stopWriter.IsCancellationRequested)
            {
                await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("w" + (n % 100), n)]);
                n++;
            }

            return n;
        });

        var joiner = await cluster.StartAdditionalSiloAsync();
        var joinerId = (await joiner.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString();
        await Wait.UntilAsync(
            async () => (await PartitionsAsync(primary)).Count(p => p.GetProperty("standbys").EnumerateArray().Any(s => s.GetProperty("silo").GetString() == joinerId)) >= Partitions / 3,
            Deadline,
            "the joining silo to take its share of standbys");

        var written = 0;
        try
        {
            await WaitAllStandbysInSyncAsync(primary);
        }
        finally
        {
            stopWriter.Cancel();
            written = await writer;
        }

        Assert.True(written > 0, "The writer never wrote during the catch-up.");
        await WaitAllStandbysInSyncAsync(primary);
        var primaryPartitions = primary.Services.GetRequiredService<PartitionManager>();
        var joinerCopies = joiner.Services.GetRequiredService<StandbyHost>();
        foreach (var partition in await PartitionsAsync(primary))
        {
            if (!partition.GetProperty("standbys").EnumerateArray().Any(s => s.GetProperty("silo").GetString() == joinerId))
            {
                continue;
            }

            var id = partition.GetProperty("id").GetInt32();
            var source = primaryPartitions.Partitions[id];
            await Wait.UntilAsync(() => Task.FromResult(joinerCopies.Find(id)?.AppliedSequence == source.LastSequence), Deadline, $"partition {id}'s copy on the joiner to reach the primary's sequence");
            Assert.Equal(source.Items.Count, joinerCopies.Find(id)!.Items.Count);
        }
    }

    private static async Task<List<JsonElement>> PartitionsAsync(InProcessSilo silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];

    private static Task WaitAllStandbysInSyncAsync(InProcessSilo primary) => Wait.UntilAsync(
        async () => (await PartitionsAsync(primary)).All(p =>
        {
            var standbys = p.GetProperty("standbys").EnumerateArray().ToList();
            return standbys.Count > 0 && standbys.All(s => s.GetProperty("inSync").ValueKind == JsonValueKind.True);
        }),
        Deadline,
        "every partition's standbys to be in sync with the primary");
}
