namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// A cursor points before the start of a partition's log on this silo, and nothing was evicted:
/// the partition started here (promoted from a standby or loaded) after that position, so its
/// earlier changes were never in this log. Unlike an expired cursor, the listener did not fall
/// behind; a cluster watch catches such a partition up from its current state (HTTP 410,
/// problem type <c>history-restarted</c>).
/// </summary>
internal sealed class PartitionHistoryRestartedException(int partition, long position, long startSequence)
    : ReplicationException($"Partition {partition} started on this silo at sequence {startSequence} (promoted or loaded) after the cursor's position {position}: its log does not hold the changes in between. Watch from any silo to be caught up, or restart from a snapshot (no cursor).")
{
    public int Partition { get; } = partition;
}
