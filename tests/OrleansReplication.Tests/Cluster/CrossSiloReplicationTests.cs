using System.Net.Http.Json;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// Real silos sharing one SQLite file form an Orleans cluster and replicate over Orleans messaging
/// (the replica grain service): every standby gets in sync and Applied writes succeed through any silo.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class CrossSiloReplicationTests(OrleansClusterFixture fixture)
{
    [Fact]
    public async Task EveryStandbyInSyncOverOrleansAndAppliedWritesSucceed()
    {
        var silos = fixture.Cluster.Silos;
        await Wait.UntilAsync(async () => await AllStandbysInSyncAsync(silos), TimeSpan.FromSeconds(60), "every partition to have an in-sync standby on another silo, as every silo reports it");
        for (var i = 0; i < 20; i++)
        {
            using var response = await silos[i % silos.Count].Http.PutAsJsonAsync($"v1/components/cross-silo/items/k{i}?safety=Applied", new { i });
            Assert.True(response.IsSuccessStatusCode, $"write {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    // Each silo reports every partition's standbys as its primary sees them (only the primary knows).
    private static async Task<bool> AllStandbysInSyncAsync(IReadOnlyList<ClusterSilo> silos)
    {
        foreach (var silo in silos)
        {
            foreach (var partition in await PartitionViews.PartitionsAsync(silo.Http))
            {
                var standbys = PartitionViews.Standbys(partition);
                if (standbys.Count == 0 || standbys.Any(s => !PartitionViews.InSync(s) || PartitionViews.SiloOf(s) == partition.GetProperty("primary").GetString()))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
