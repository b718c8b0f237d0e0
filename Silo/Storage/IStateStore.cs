namespace OrleansReplication.Silo.Storage;

/// <summary>
/// The durable store behind the partitions, reached through ADO.NET. One small surface so that
/// PostgreSQL (production) and SQLite (embedded default) behave the same, checked by one test suite.
/// </summary>
/// <remarks>
/// Every write is conditional on the version the writer believes the row is at, and every
/// commit carries the partition's epoch: two racing writers cannot both win, and a deposed
/// primary (lower epoch) can never persist anything.
/// </remarks>
internal interface IStateStore : IAsyncDisposable
{
    /// <summary>The provider's name for logs: "sqlite" or "postgres".</summary>
    string ProviderName { get; }

    /// <summary>Applies the schema scripts; idempotent, safe to run from many silos at once.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Returns the cluster's partition count: the stored one, or <paramref name="proposed"/>
    /// stored now when this is the cluster's first start. Fixed for the cluster's life.
    /// </summary>
    Task<int> GetOrSetPartitionCountAsync(int proposed, CancellationToken cancellationToken);

    /// <summary>Loads one partition: its epoch, last sequence number and every item.</summary>
    Task<PartitionData> LoadPartitionAsync(int partitionId, CancellationToken cancellationToken);

    /// <summary>
    /// Loads one partition's epoch, last sequence number and recorded requests, without its items
    /// (<see cref="PartitionData.Items"/> is empty): what a promoted standby whose warm copy is at
    /// the stored sequence needs, at a cost independent of the partition's size.
    /// </summary>
    Task<PartitionData> LoadPartitionHeadAsync(int partitionId, CancellationToken cancellationToken);

    /// <summary>
    /// Persists one batch of a partition atomically, in one transaction: the partition's last
    /// sequence number and epoch, and every write.
    /// </summary>
    /// <exception cref="StoreConflictException">A row was not at the version a write expected; nothing was persisted.</exception>
    /// <exception cref="StaleEpochException">The stored epoch is higher than <paramref name="epoch"/>, or the stored sequence is not lower than <paramref name="lastSequence"/>; nothing was persisted.</exception>
    Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken) =>
        CommitAsync(partitionId, epoch, lastSequence, writes, RequestRecords.None, cancellationToken);

    /// <summary>
    /// As <see cref="CommitAsync(int, long, long, IReadOnlyList{StoredWrite}, CancellationToken)"/>, and
    /// in the same transaction records the requests with idempotency ids whose changes the commit
    /// holds and forgets the partition's recorded requests up to
    /// <see cref="RequestRecords.ForgetUpTo"/>.
    /// </summary>
    Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CancellationToken cancellationToken) =>
        CommitAsync(partitionId, epoch, lastSequence, writes, requests, CommitSync.Disk, cancellationToken);

    /// <summary>
    /// As <see cref="CommitAsync(int, long, long, IReadOnlyList{StoredWrite}, RequestRecords, CancellationToken)"/>,
    /// holding as hard as <paramref name="sync"/> asks before it returns.
    /// </summary>
    Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CommitSync sync, CancellationToken cancellationToken);

    /// <summary>Puts on disk every commit made so far, the <see cref="CommitSync.Process"/> ones included.</summary>
    Task SyncAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Anti-entropy: rewrites rows that differ from the primary's warm copy, in one transaction,
    /// only while no later epoch than <paramref name="epoch"/> leads the partition (a stored
    /// earlier one is raised to it, fencing the partition's earlier primaries). A row no longer at
    /// the version its write expects (the persister wrote it since it was read) is left alone. The
    /// last sequence does not move. Returns how many rows it rewrote.
    /// </summary>
    /// <exception cref="StaleEpochException">A later epoch leads the partition; nothing was written.</exception>
    Task<int> RepairAsync(int partitionId, long epoch, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken);
}

/// <summary>How hard a commit must hold when it returns.</summary>
internal enum CommitSync
{
    /// <summary>On disk (fsync): it survives a power loss. For what a write waits on: <c>Durable</c>, a stop, a promotion's merge.</summary>
    Disk,

    /// <summary>
    /// Handed to the operating system: it survives a crash of the silo process, and the next
    /// <see cref="Disk"/> commit puts it on disk too. For write-behind while in-sync standbys
    /// carry the writes: a sync per flush would cost most of a silo's store time for nothing the
    /// writers wait on. A store that cannot tell the two apart syncs every commit.
    /// </summary>
    Process,
}

/// <summary>
/// The recorded requests (idempotency ids) of one commit, as one opaque row: the store writes one
/// row per flush, not one per request.
/// </summary>
/// <param name="LastSequence">The newest request's last sequence (unique per partition); rows are forgotten in this order.</param>
/// <param name="Requests">The recorded requests (protobuf <c>ReplicatedRequestBlock</c>).</param>
internal readonly record struct StoredRequestBlock(long LastSequence, byte[] Requests);

/// <summary>The recorded-request rows of one commit.</summary>
/// <param name="Added">Rows to insert (a row already stored under its last sequence is kept).</param>
/// <param name="ForgetUpTo">Delete the partition's rows whose last sequence is at most this; 0 deletes none.</param>
internal readonly record struct RequestRecords(IReadOnlyList<StoredRequestBlock> Added, long ForgetUpTo)
{
    /// <summary>No rows to add or forget.</summary>
    public static RequestRecords None => new([], 0);

    /// <summary>Whether the commit touches the request rows at all.</summary>
    public bool IsEmpty => Added.Count == 0 && ForgetUpTo <= 0;
}

/// <summary>One item as stored.</summary>
/// <param name="Component">The component name.</param>
/// <param name="PartitionKey">The partition key, or "" when the item is partitioned by its id.</param>
/// <param name="Id">The item id.</param>
/// <param name="Version">The item's version.</param>
/// <param name="Value">The item's JSON, UTF-8, byte for byte as written.</param>
internal readonly record struct StoredItem(string Component, string PartitionKey, string Id, long Version, byte[] Value);

/// <summary>One row change of a commit.</summary>
/// <param name="Component">The component name.</param>
/// <param name="PartitionKey">The partition key, or "".</param>
/// <param name="Id">The item id.</param>
/// <param name="ExpectedVersion">The version the row must be at: 0 means it must not exist.</param>
/// <param name="NewVersion">The row's new version (for a delete, the sequence number of the removal).</param>
/// <param name="Value">The new JSON; <see langword="null"/> deletes the row.</param>
internal readonly record struct StoredWrite(string Component, string PartitionKey, string Id, long ExpectedVersion, long NewVersion, byte[]? Value);

/// <summary>A partition as loaded from the store.</summary>
/// <param name="PartitionId">The partition.</param>
/// <param name="Epoch">The stored epoch; 0 when the partition was never written.</param>
/// <param name="LastSequence">The sequence number of the last persisted change; 0 when none.</param>
/// <param name="Items">Every item of the partition.</param>
internal sealed record PartitionData(int PartitionId, long Epoch, long LastSequence, IReadOnlyList<StoredItem> Items)
{
    /// <summary>The partition's recorded requests (idempotency ids), in blocks, in any order.</summary>
    public IReadOnlyList<StoredRequestBlock> Requests { get; init; } = [];
}

/// <summary>A conditional row write found another version; the whole commit was rolled back.</summary>
internal sealed class StoreConflictException(int partitionId, string component, string partitionKey, string id, long expectedVersion, long actualVersion)
    : Exception($"Store conflict in partition {partitionId}: item '{component}/{(partitionKey.Length == 0 ? string.Empty : partitionKey + "/")}{id}' was expected at version {expectedVersion} but the store has {actualVersion}. Another writer changed it: the partition must reload from the store.")
{
    public int PartitionId { get; } = partitionId;

    public long ExpectedVersion { get; } = expectedVersion;

    public long ActualVersion { get; } = actualVersion;
}

/// <summary>The store holds a newer epoch (or sequence) for the partition: this writer was deposed and is fenced off.</summary>
internal sealed class StaleEpochException(int partitionId, long epoch, long storedEpoch, long lastSequence, long storedSequence)
    : Exception($"Partition {partitionId} write fenced: this writer's epoch {epoch} (sequence {lastSequence}) is behind the store's epoch {storedEpoch} (sequence {storedSequence}). Another silo leads the partition now.")
{
    public int PartitionId { get; } = partitionId;

    public long StoredEpoch { get; } = storedEpoch;
}
