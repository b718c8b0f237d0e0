namespace OrleansReplication.Grains.State;

/// <summary>
/// The silo's partition replicas as grains see them. Every call validates its input and checks
/// that this silo leads the partition now (the grain directory and placement may be stale), so
/// a write commits only on the current epoch's primary.
/// </summary>
internal interface IPartitionAccess
{
    /// <summary>The partition count.</summary>
    /// <exception cref="ReplicaUnavailableException">The silo is still loading its partitions.</exception>
    int PartitionCount { get; }

    /// <summary>The partition of an item; validates the component and key.</summary>
    int GetPartition(string component, ItemKey key);

    /// <summary>Throws unless this silo serves <paramref name="partition"/> as its primary now.</summary>
    /// <exception cref="PartitionMovedException">Another silo leads it (or none does right now).</exception>
    void EnsureLeads(int partition);

    /// <summary>Reads items of <paramref name="partition"/>, keeping the order, leaving out those that do not exist.</summary>
    JsonItem[] Get(int partition, string component, IReadOnlyList<ItemKey> keys);

    /// <summary>Applies writes of <paramref name="partition"/> atomically under an optional idempotency id.</summary>
    Task<WriteResult[]> ApplyAsync(int partition, string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken);

    /// <summary>
    /// Applies a grain's own state write on <paramref name="partition"/>'s primary, wherever it is
    /// now: here, or on the silo the map names (asked again while a handoff settles, until
    /// <paramref name="cancellationToken"/> or a few seconds).
    /// </summary>
    /// <exception cref="PartitionMovedException">No silo took it in time; nothing was applied.</exception>
    Task<WriteResult[]> ApplyOnPrimaryAsync(int partition, string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken);

    /// <summary>Reads items of <paramref name="partition"/> on its primary, wherever it is now (see <see cref="ApplyOnPrimaryAsync"/>).</summary>
    /// <exception cref="PartitionMovedException">No silo answered as its primary in time.</exception>
    Task<JsonItem[]> GetOnPrimaryAsync(int partition, string component, IReadOnlyList<ItemKey> keys);

    /// <summary>One page of <paramref name="partition"/>'s items of <paramref name="component"/> after a listing cursor.</summary>
    PartitionPage List(int partition, string component, string? after, int limit);

    /// <summary>The partition's progress on this primary.</summary>
    PartitionProgress GetProgress(int partition);

    /// <summary>Runs anti-entropy on <paramref name="partition"/> now (its standbys; the store too when asked) and answers its progress.</summary>
    Task<PartitionProgress> VerifyAsync(int partition, bool store, CancellationToken cancellationToken);

    /// <summary>The Orleans address of <paramref name="partition"/>'s live primary per this silo's map, or null when none is known.</summary>
    SiloAddress? PrimarySilo(int partition);

    /// <summary>
    /// How long this silo has led <paramref name="partition"/> since it took it from a silo that is
    /// gone (a failover); <see cref="TimeSpan.MaxValue"/> while the silo that led it before lives (a
    /// graceful handoff: the calls that silo ran are answered there or forwarded, none is lost).
    /// </summary>
    TimeSpan LedSinceLosingPrimary(int partition);

    /// <summary>This silo's view of the cluster for clients.</summary>
    ClusterInfo GetClusterInfo();
}

/// <summary>What a grain does when it finds its silo not leading its partition.</summary>
internal static class PartitionMoves
{
    /// <summary>
    /// Moves the activation away: to the partition's primary when this silo knows it (a migration
    /// with a placement hint, so the grain directory and callers' cached locations follow at once),
    /// else it deactivates (the next call is placed afresh by the director).
    /// </summary>
    public static void Leave(IGrainContext context, IPartitionAccess access, int partition)
    {
        if (partition >= 0 && access.PrimarySilo(partition) is { } primary && !primary.Equals(context.Address.SiloAddress))
        {
            context.Migrate(new Dictionary<string, object> { [Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey] = primary });
            return;
        }

        context.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, $"This silo does not lead partition {partition}."));
    }
}
