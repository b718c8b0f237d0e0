namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Event ids of the replication and write-behind logs (1600-1699). A public contract like
/// <see cref="LogEvents"/>: never renumber. Kept apart only until the two lists are merged.
/// </summary>
internal static class ReplicationLogEvents
{
    public const int PersistFailed = 1600;
    public const int PersistStopTimedOut = 1601;
    public const int StoreDiverged = 1602;
    public const int PersistLandedUnanswered = 1603;
    public const int PersistRecovered = 1604;
    public const int LinkOutOfSync = 1610;
    public const int LinkInSync = 1611;
    public const int LinkSnapshotSent = 1612;
    public const int LinkDeposed = 1613;
    public const int LinkCatchUpFailed = 1614;
    public const int StandbyRefused = 1620;
    public const int StandbyApplyFailed = 1621;
    public const int SenderCallFailed = 1630;
    public const int SenderProbeFailed = 1631;
    public const int ReplicaRepaired = 1640;
    public const int ReplicaKeepsDiverging = 1641;
    public const int ReplicaIncomparable = 1642;
    public const int StoreRepaired = 1643;
    public const int AntiEntropyCheckFailed = 1644;
}
