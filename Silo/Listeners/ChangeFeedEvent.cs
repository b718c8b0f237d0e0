using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Listeners;

/// <summary>What a change-feed event says.</summary>
internal enum ChangeKind
{
    /// <summary>The item was created or updated (or is part of the snapshot).</summary>
    Set,

    /// <summary>The item was removed.</summary>
    Removed,

    /// <summary>The snapshot is complete; live changes follow.</summary>
    SnapshotEnd,
}

/// <summary>
/// One event of a change feed. <see cref="Cursor"/> is <see langword="null"/> on snapshot items
/// (resuming in the middle of a snapshot is not possible: a listener cut off there starts over);
/// snapshot-end and live changes carry the position to resume from. <see cref="CatchUp"/> marks an
/// item's current state sent in place of the changes a restarted partition history no longer holds.
/// </summary>
internal readonly record struct ChangeFeedEvent(ChangeKind Kind, ItemAddress Address, long Version, byte[]? Json, string? Cursor, bool CatchUp = false);
