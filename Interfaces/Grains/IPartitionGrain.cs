namespace OrleansReplication;

/// <summary>
/// The grain that serves one partition (its key is the partition id), placed on the partition's
/// primary: atomic multi-item writes, reads and listing pages of that partition. What the typed
/// State Replicator and the HTTP API call; a call for items of other partitions is refused.
/// </summary>
/// <remarks>
/// A call that lands on a silo that does not lead the partition (it moved, or placement was
/// stale) fails with <see cref="PartitionMovedException"/> and changes nothing: send it again
/// with the same <see cref="IdempotencyId"/>.
/// </remarks>
[Alias("OrleansReplication.IPartitionGrain")]
public interface IPartitionGrain : IGrainWithIntegerKey
{
    /// <summary>Applies the writes atomically (every condition holds, or nothing is applied); one result per write, in order.</summary>
    /// <param name="component">The component.</param>
    /// <param name="writes">The writes, all of this partition.</param>
    /// <param name="safety">When to answer.</param>
    /// <param name="id">The write's idempotency id, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels waiting; the write may still apply.</param>
    /// <exception cref="VersionConflictException">A condition did not hold; nothing was applied.</exception>
    [Alias("Apply")]
    Task<WriteResult[]> ApplyAsync(string component, [Immutable] ItemWriteData[] writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken = default);

    /// <summary>Reads items of this partition; those that do not exist are left out; the order of <paramref name="keys"/> is kept.</summary>
    [Alias("Get")]
    Task<JsonItem[]> GetAsync(string component, [Immutable] ItemKey[] keys);

    /// <summary>One page of this partition's items of <paramref name="component"/> after the listing cursor <paramref name="after"/>.</summary>
    [Alias("List")]
    Task<PartitionPage> ListAsync(string component, string? after, int limit);

    /// <summary>
    /// How long this silo has led the partition since it took it from a silo that is gone: a client
    /// whose call is unanswered asks, and an answer younger than the call means the silo that ran
    /// the call died. <see cref="TimeSpan.MaxValue"/> while the silo that led it before lives (a
    /// graceful handoff: the calls it ran are answered there or forwarded).
    /// </summary>
    [Alias("GetServingFor")]
    Task<TimeSpan> GetServingForAsync();

    /// <summary>The partition's progress as its primary sees it: last sequence and its standbys' acknowledgements.</summary>
    [Alias("GetProgress")]
    Task<PartitionProgress> GetProgressAsync();

    /// <summary>
    /// Anti-entropy now: compares the partition with every in-sync standby by clump hashes (and,
    /// with <paramref name="store"/>, the store's rows with the primary's warm copy), repairs what
    /// differs, and answers the progress with each comparison's outcome in
    /// <see cref="StandbyProgress.LastCheck"/> and <see cref="PartitionProgress.StoreCheck"/>.
    /// </summary>
    /// <exception cref="ReplicaUnavailableException">Anti-entropy is off on the primary's silo.</exception>
    [Alias("Verify")]
    Task<PartitionProgress> VerifyAsync(bool store, CancellationToken cancellationToken = default);
}

/// <summary>A partition's progress on its primary.</summary>
/// <param name="Partition">The partition.</param>
/// <param name="Epoch">The epoch the primary serves.</param>
/// <param name="LastSequence">The last sequence it committed.</param>
/// <param name="Standbys">Its standbys' acknowledged progress.</param>
/// <param name="StoreCheck">The last anti-entropy comparison of the store with the primary's warm copy, if any.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.PartitionProgress")]
public sealed record PartitionProgress(int Partition, long Epoch, long LastSequence, StandbyProgress[] Standbys, ReplicaCheck? StoreCheck = null);

/// <summary>A standby's progress as its primary knows it from its acknowledgements.</summary>
/// <param name="Silo">The standby silo.</param>
/// <param name="AppliedSequence">The last sequence it applied.</param>
/// <param name="InSync">Whether it counts for the safety levels.</param>
/// <param name="LastCheck">The last anti-entropy comparison of its warm copy with the primary's, if any.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.StandbyProgress")]
public sealed record StandbyProgress(string Silo, long AppliedSequence, bool InSync, ReplicaCheck? LastCheck = null);

/// <summary>The last anti-entropy comparison of a replica (a standby, or the store) with its partition's primary.</summary>
/// <param name="At">When it ended.</param>
/// <param name="Sequence">The partition sequence compared at.</param>
/// <param name="Outcome"><c>in-sync</c>, <c>diverged</c> (a repair is on its way), <c>repaired</c>, <c>resynced</c> (it kept diverging: out of the in-sync set, sent a snapshot), <c>skipped</c> (it was being caught up: compared next time) or <c>incomparable</c> (another clump count).</param>
/// <param name="DifferingClumps">How many clumps differed.</param>
/// <param name="ItemsRepaired">How many items (store: rows) the repair rewrote.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.ReplicaCheck")]
public sealed record ReplicaCheck(DateTimeOffset At, long Sequence, string Outcome, int DifferingClumps, int ItemsRepaired);
