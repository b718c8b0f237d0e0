namespace OrleansReplication.Silo.Partitions;

/// <summary>How a promoted standby's warm copy met the store.</summary>
internal enum WarmStart
{
    /// <summary>The store was at the copy's sequence: only its head was read.</summary>
    StoreAtCopy,

    /// <summary>The store was behind, and the copy's tail held every change since: those were persisted, no row read.</summary>
    TailPersisted,

    /// <summary>Every stored row was read and merged with the copy (the store ahead, or too far behind for the tail).</summary>
    Merged,
}
