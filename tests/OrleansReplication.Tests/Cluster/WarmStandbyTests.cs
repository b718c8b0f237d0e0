using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Client;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>Replication between real silos over the silo transport: the standby's warm copy is inspected in memory.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class WarmStandbyTests(OrleansClusterFixture fixture)
{
    private const int Partitions = ReplicationCluster.PartitionCount;

    [Fact]
    public async Task Write_AckedAtApplied_AlreadyInStandbysWarmCopy()
    {
        var cluster = fixture.Cluster;
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
}
