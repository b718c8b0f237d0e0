using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Diagnostics;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.AntiEntropy;

/// <summary>Tells operators what anti-entropy found: the cluster event channel, the metrics and the log.</summary>
internal sealed partial class AntiEntropyReporter(ClusterEventChannel events, ReplicationMetrics metrics, ILogger<AntiEntropyReporter> logger)
{
    private readonly ILogger _logger = logger;

    public void Report(AntiEntropyReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        metrics.Record(report);
        var clumps = string.Join(", ", report.Clumps);
        switch (report.Finding)
        {
            case AntiEntropyFinding.ReplicaRepaired:
                LogReplicaRepaired(report.Partition, report.Replica, report.Clumps.Length, clumps, report.Items, report.Sequence);
                events.Publish(ClusterEventKinds.ReplicaRepaired, report.Replica, report.Partition, report.Epoch, $"Standby {report.Replica} of partition {report.Partition} differed from its primary in {report.Clumps.Length} clump(s) ({clumps}) at sequence {report.Sequence}; {report.Items} item(s) repaired from the primary.");
                break;
            case AntiEntropyFinding.KeepsDiverging:
                LogKeepsDiverging(report.Partition, report.Replica, report.InARow);
                events.Publish(ClusterEventKinds.ReplicaResynced, report.Replica, report.Partition, report.Epoch, $"Standby {report.Replica} of partition {report.Partition} kept diverging from its primary ({report.InARow} checks in a row); it left the in-sync set and is sent a full snapshot.");
                break;
            case AntiEntropyFinding.Incomparable:
                LogIncomparable(report.Partition, report.Replica);
                events.Publish(ClusterEventKinds.ReplicaIncomparable, report.Replica, report.Partition, report.Epoch, $"Standby {report.Replica} of partition {report.Partition} keeps another number of anti-entropy clumps than its primary; it is not compared.");
                break;
            case AntiEntropyFinding.StoreRepaired:
                LogStoreRepaired(report.Partition, report.Clumps.Length, clumps, report.Items, report.Sequence);
                events.Publish(ClusterEventKinds.StoreRepaired, "store", report.Partition, report.Epoch, $"The store's rows of partition {report.Partition} differed from the primary's warm copy in {report.Clumps.Length} clump(s) ({clumps}) at sequence {report.Sequence}; {report.Items} row(s) rewritten from it.");
                break;
        }
    }

    [LoggerMessage(EventId = ReplicationLogEvents.ReplicaRepaired, Level = LogLevel.Warning, Message = "Partition {Partition}: standby {Standby} differed from the primary in {Count} clump(s) ({Clumps}) at sequence {Sequence}; repaired {Items} item(s) from the primary. A standby should never diverge: if this repeats, look for a silo with failing memory or disk, or report it.")]
    private partial void LogReplicaRepaired(int partition, string standby, int count, string clumps, int items, long sequence);

    [LoggerMessage(EventId = ReplicationLogEvents.ReplicaKeepsDiverging, Level = LogLevel.Error, Message = "Partition {Partition}: standby {Standby} kept diverging from the primary ({InARow} checks in a row despite repairs). It no longer counts for the Received and Applied safety levels and is sent a full snapshot. Check that silo's host (memory, disk) and its version; replace it if this repeats.")]
    private partial void LogKeepsDiverging(int partition, string standby, int inARow);

    [LoggerMessage(EventId = ReplicationLogEvents.ReplicaIncomparable, Level = LogLevel.Warning, Message = "Partition {Partition}: standby {Standby} keeps another number of anti-entropy clumps than this primary, so it cannot be compared. Set Replication:AntiEntropy:Clumps alike on every silo.")]
    private partial void LogIncomparable(int partition, string standby);

    [LoggerMessage(EventId = ReplicationLogEvents.StoreRepaired, Level = LogLevel.Warning, Message = "Partition {Partition}: the store's rows differed from the primary's warm copy in {Count} clump(s) ({Clumps}) at sequence {Sequence}; rewrote {Rows} row(s) from it. Something other than this silo wrote the store, or it lost writes: check its backups and who else writes it.")]
    private partial void LogStoreRepaired(int partition, int count, string clumps, int rows, long sequence);
}
