using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Silo.Diagnostics;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

public sealed class ReplicationMetricsTests
{
    [Fact]
    public async Task Metrics_TwoSilosAfterWrites_EveryStandbyInSyncAndLagZero()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
        await cluster.WaitForReplicationToStabilizeAsync();
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
                return Task.FromResult(inSync == 16 && maxLag == 0);
            },
            TimeSpan.FromSeconds(30),
            "the metrics to show 16 in-sync standbys (one per partition) and no lag");
    }

    [Fact]
    public async Task Membership_TwoSilosRf2_ReportPartitionsActuallyCarried()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
        await cluster.WaitForReplicationToStabilizeAsync();

        // 16 partitions, one primary and one standby each: 32 copies over the two silos, shared evenly.
        var seen = "nothing";
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    seen = await cluster.Silos[0].Http.GetStringAsync("v1/cluster/silos");
                    var carried = JsonDocument.Parse(seen).RootElement.GetProperty("silos").EnumerateArray()
                        .Where(s => s.GetProperty("status").GetString() == "active")
                        .Select(s => s.GetProperty("partitions").GetInt32()).ToList();
                    return carried.Count == 2 && carried.Sum() == 32 && carried.All(c => c == 16);
                },
                TimeSpan.FromSeconds(30),
                "each silo to report the 16 partitions it carries (8 led, 8 standby copies)");
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
