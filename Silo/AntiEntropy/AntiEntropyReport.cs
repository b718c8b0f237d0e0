namespace OrleansReplication.Silo.AntiEntropy;

/// <summary>What anti-entropy found about one replica of a partition.</summary>
internal enum AntiEntropyFinding
{
    /// <summary>A standby's copy differed in some clumps; the primary's items of those clumps replaced them.</summary>
    ReplicaRepaired,

    /// <summary>A standby diverged again and again despite repairs (or a repair did not take): it left the in-sync set and gets a full snapshot.</summary>
    KeepsDiverging,

    /// <summary>A standby keeps another number of clumps (the silos' anti-entropy settings differ): it cannot be compared.</summary>
    Incomparable,

    /// <summary>The store's rows differed from the primary's warm copy in some clumps; the rows were rewritten from it.</summary>
    StoreRepaired,
}

/// <summary>One anti-entropy finding, for the cluster event channel, the metrics and the log.</summary>
/// <param name="Partition">The partition.</param>
/// <param name="Epoch">The primary's epoch.</param>
/// <param name="Replica">The standby silo, or <c>store</c>.</param>
/// <param name="Finding">What was found.</param>
/// <param name="Sequence">The partition sequence the comparison was made at.</param>
/// <param name="Clumps">The clumps that differed.</param>
/// <param name="Items">The items the repair changed, added or removed.</param>
/// <param name="InARow">How many checks in a row found this replica diverged.</param>
internal sealed record AntiEntropyReport(int Partition, long Epoch, string Replica, AntiEntropyFinding Finding, long Sequence, int[] Clumps, int Items, int InARow);

/// <summary>How the last comparison of a replica with its primary ended.</summary>
internal enum ReplicaCheckOutcome
{
    InSync,
    Diverged,
    Repaired,
    Resynced,
    Incomparable,

    /// <summary>The standby was not at the check's sequence (it was being caught up): compared next time.</summary>
    Skipped,
}

/// <summary>The last comparison of one replica with its primary.</summary>
/// <param name="At">When it ended.</param>
/// <param name="Sequence">The partition sequence compared at.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="DifferingClumps">How many clumps differed.</param>
/// <param name="ItemsRepaired">How many items the repair changed.</param>
/// <param name="DivergedInARow">How many checks in a row found the replica diverged (0 once one matches).</param>
internal sealed record ReplicaCheckStatus(DateTimeOffset At, long Sequence, ReplicaCheckOutcome Outcome, int DifferingClumps, int ItemsRepaired, int DivergedInARow)
{
    public ReplicaCheck ToPublic() => new(At, Sequence, Outcome switch
    {
        ReplicaCheckOutcome.InSync => "in-sync",
        ReplicaCheckOutcome.Diverged => "diverged",
        ReplicaCheckOutcome.Repaired => "repaired",
        ReplicaCheckOutcome.Resynced => "resynced",
        ReplicaCheckOutcome.Skipped => "skipped",
        _ => "incomparable",
    }, DifferingClumps, ItemsRepaired);
}
