using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Client;
using OrleansReplication.Silo.Diagnostics;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>What the silos report of replication: standbys in sync and their lag (metrics), and the partitions each carries.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ReplicationMetricsTests(OrleansClusterFixture fixture)
{
    // 16 partitions, one primary and one standby each (replication factor 2).
    private const int Partitions = ReplicationCluster.PartitionCount;

    [Fact]
    public async Task Metrics_AfterWrites_EveryStandbyInSyncAndLagZero()
    {
        var cluster = fixture.Cluster;
        var replicator = cluster.Client.GetReplicator<int>("metrics");
        for (var i = 0; i < 50; i++)
        {
            await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("k" + i, i)]);
        }

        await cluster.WaitForReplicationToStabilizeAsync();
        var meters = cluster.Silos.Select(s => s.Services.GetRequiredService<ReplicationMetrics>().Meter).ToHashSet();

        await Wait.UntilAsync(
            () =>
            {
                var (inSync, maxLag) = Observe(meters);
                return Task.FromResult(inSync == Partitions && maxLag == 0);
            },
            TimeSpan.FromSeconds(30),
            $"the metrics to show {Partitions} in-sync standbys (one per partition) and no lag");
    }

    [Fact]
    public async Task Membership_Rf2_ReportPartitionsActuallyCarried()
    {
        var cluster = fixture.Cluster;

        // One primary and one standby per partition: 32 copies over the silos, each silo reporting
        // the partitions the map has it lead or stand by for.
        var seen = "nothing";
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    var map = await PartitionViews.PartitionsAsync(cluster.Silos[0].Http);
                    seen = await cluster.Silos[0].Http.GetStringAsync("v1/cluster/silos");
                    var carried = JsonDocument.Parse(seen).RootElement.GetProperty("silos").EnumerateArray()
                        .Where(s => s.GetProperty("status").GetString() == "active")
                        .ToDictionary(s => s.GetProperty("id").GetString()!, s => s.GetProperty("partitions").GetInt32());
                    return carried.Count == cluster.Silos.Count
                        && carried.Values.Sum() == 2 * Partitions
                        && carried.All(c => c.Value == map.Count(p => p.GetProperty("primary").GetString() == c.Key || PartitionViews.Standbys(p).Select(PartitionViews.SiloOf).Contains(c.Key)));
                },
                TimeSpan.FromSeconds(30),
                $"each silo to report the partitions it carries, led or standby ({2 * Partitions} copies in all)");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + " Last seen: " + seen, ex);
        }
    }

    private static (long InSync, long MaxLag) Observe(HashSet<Meter> meters)
    {
        long inSync = 0, maxLag = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (meters.Contains(instrument.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name == "orleans_replication.standbys.in_sync")
            {
                inSync += value;
            }
        });
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "orleans_replication.standby.lag")
            {
                maxLag = Math.Max(maxLag, value);
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return (inSync, maxLag);
    }
}
