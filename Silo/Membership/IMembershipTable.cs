namespace OrleansReplication.Silo.Membership;

/// <summary>
/// The membership table, kept in the same ADO.NET store as the state (several silo processes
/// share it). Every silo writes its own row and reads everyone's; status changes are
/// compare-and-swap so two silos declaring the same peer dead agree.
/// </summary>
internal interface IMembershipTable
{
    /// <summary>
    /// Writes this incarnation's row (insert, or replace the same incarnation's row), and marks
    /// every OLDER incarnation of the same silo id Dead in the same transaction.
    /// </summary>
    Task JoinAsync(SiloRecord silo, CancellationToken cancellationToken);

    /// <summary>
    /// Updates IAmAlive and the dynamic attributes of this incarnation. Returns false, changing
    /// nothing, when the row is Dead or missing: the silo was declared dead and must stop serving.
    /// </summary>
    Task<bool> HeartbeatAsync(SiloIncarnation silo, long iAmAlive, long freeMemoryBytes, int partitionsCarried, CancellationToken cancellationToken);

    /// <summary>Sets a row's status from <paramref name="expected"/> to <paramref name="status"/>; false when the row was not in <paramref name="expected"/>.</summary>
    Task<bool> TryUpdateStatusAsync(SiloIncarnation silo, SiloStatus expected, SiloStatus status, CancellationToken cancellationToken);

    /// <summary>Every row, dead ones included (the caller filters), ordered by silo id then incarnation.</summary>
    Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>Deletes Dead rows whose IAmAlive is older than <paramref name="olderThan"/> (Unix ms); returns how many.</summary>
    Task<int> CleanupDeadAsync(long olderThan, CancellationToken cancellationToken);
}
