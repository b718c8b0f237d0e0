namespace OrleansReplication.Silo.Placement;

/// <summary>
/// The partition map in the store. A row changes only by compare-and-swap on its version, and
/// its epoch never goes down (invariant 1: one primary per partition per epoch). The same
/// transaction raises the partition's fencing epoch in <c>or_partitions</c>, so a deposed
/// primary's store writes are refused from then on.
/// </summary>
internal interface IPartitionMapStore
{
    /// <summary>Every partition's assignment, by partition id; partitions never assigned are absent.</summary>
    Task<IReadOnlyList<PartitionAssignment>> ReadPartitionMapAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes <paramref name="next"/> if the row's stored version is <c>next.Version - 1</c> (no row
    /// when <c>next.Version</c> is 1) and its stored epoch is not above <c>next.Epoch</c>. Returns
    /// false, changing nothing, when another writer got there first.
    /// </summary>
    Task<bool> TryUpdateAssignmentAsync(PartitionAssignment next, CancellationToken cancellationToken);

    /// <summary>
    /// How many <see cref="TryUpdateAssignmentAsync"/> calls (each its own synced transaction, on
    /// other rows) are worth running at once: a server commits concurrent transactions in one flush,
    /// an embedded file takes one writer at a time.
    /// </summary>
    int ConcurrentUpdates => 1;

    /// <summary>Records that <paramref name="silo"/> drains (idempotent).</summary>
    Task MarkDrainingAsync(Membership.SiloIncarnation silo, CancellationToken cancellationToken);

    /// <summary>Every silo incarnation ever marked draining (a restarted silo is a new incarnation, so old rows are inert).</summary>
    Task<IReadOnlySet<Membership.SiloIncarnation>> ReadDrainingAsync(CancellationToken cancellationToken);
}
