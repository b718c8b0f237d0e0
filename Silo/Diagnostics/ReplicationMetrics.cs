using System.Diagnostics.Metrics;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Diagnostics;

/// <summary>
/// Replication progress for operators (meter <c>OrleansReplication</c>): how far each standby is
/// behind its primary, how many standbys are in sync, snapshots sent. Observed on collection, so
/// the commit path pays nothing.
/// </summary>
internal sealed class ReplicationMetrics : IDisposable
{
    public const string MeterName = "OrleansReplication";

    private readonly Meter _meter;
    private readonly Counter<long> _repairs;
    private readonly Counter<long> _itemsRepaired;

    public ReplicationMetrics(PartitionManager partitions, IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableGauge(
            "orleans_replication.standby.lag",
            () => Links(partitions).Select(x => new Measurement<long>(
                Math.Max(0, x.Partition.LastSequence - x.Link.AppliedSequence),
                new KeyValuePair<string, object?>("partition", x.Partition.Id),
                new KeyValuePair<string, object?>("standby", x.Link.Name))),
            unit: "{change}",
            description: "Changes the primary applied that the standby has not applied yet.");
        _meter.CreateObservableGauge(
            "orleans_replication.standbys.in_sync",
            () => Links(partitions).Count(x => x.Link.InSync),
            unit: "{standby}",
            description: "Standbys of partitions led by this silo that count for the Received and Applied safety levels.");
        _meter.CreateObservableCounter(
            "orleans_replication.snapshots.sent",
            () => Links(partitions).Sum(x => (long)x.Link.SnapshotsSent),
            unit: "{snapshot}",
            description: "Snapshots sent to catch standbys up (late joiners and standbys that fell out of the log).");
        _repairs = _meter.CreateCounter<long>(
            "orleans_replication.anti_entropy.repairs",
            unit: "{repair}",
            description: "Replicas (standbys, or the store) that anti-entropy found diverged and repaired or resynced, by finding.");
        _itemsRepaired = _meter.CreateCounter<long>(
            "orleans_replication.anti_entropy.items_repaired",
            unit: "{item}",
            description: "Items or rows anti-entropy rewrote on diverged replicas.");
    }

    /// <summary>Counts one anti-entropy finding.</summary>
    public void Record(AntiEntropy.AntiEntropyReport report)
    {
        var finding = new KeyValuePair<string, object?>("finding", report.Finding.ToString());
        var partition = new KeyValuePair<string, object?>("partition", report.Partition);
        _repairs.Add(1, finding, partition);
        if (report.Items > 0)
        {
            _itemsRepaired.Add(report.Items, finding, partition);
        }
    }

    /// <summary>This silo's meter (several in-process silos each have one).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<(Partition Partition, Replication.IReplicaLink Link)> Links(PartitionManager partitions)
    {
        for (var p = 0; p < partitions.PartitionCount; p++)
        {
            if (!partitions.Leads(p))
            {
                continue;
            }

            var partition = partitions.Partitions[p];
            foreach (var link in partition.Links)
            {
                yield return (partition, link);
            }
        }
    }
}
