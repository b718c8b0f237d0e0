namespace OrleansReplication;

/// <summary>
/// The State Replicator of one component (seed 000): set and remove many items in one call,
/// read them back, and page through all of them to catch up as a late joiner.
/// </summary>
/// <remarks>
/// Every write returns the items' new versions. A call is atomic per partition: when one
/// write's version condition fails, nothing of that partition's part of the call is applied.
/// </remarks>
/// <typeparam name="TItem">The component's item type, serialized as JSON.</typeparam>
public interface IStateReplicator<TItem>
{
    /// <summary>The component's name.</summary>
    string Component { get; }

    /// <summary>Adds or updates internally keyed items (their key comes from the key selector or the <see cref="StateKeyAttribute"/> property).</summary>
    Task<IReadOnlyList<WriteResult>> SetStateItemsAsync(IEnumerable<TItem> items, WriteOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Adds or updates externally keyed items, unconditionally.</summary>
    Task<IReadOnlyList<WriteResult>> SetStateItemsAsync(IEnumerable<KeyValuePair<ItemKey, TItem>> items, WriteOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Removes items; removing an item that does not exist changes nothing.</summary>
    Task<IReadOnlyList<WriteResult>> RemoveStateItemsAsync(IEnumerable<ItemKey> keys, WriteOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Applies sets and removes, each with an optional version condition, in one call.</summary>
    /// <exception cref="VersionConflictException">A condition did not hold; the conflicting partition's part was not applied.</exception>
    Task<IReadOnlyList<WriteResult>> ApplyAsync(IEnumerable<ItemWrite<TItem>> writes, WriteOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Reads items; those that do not exist are left out. The result keeps the order of <paramref name="keys"/>.</summary>
    Task<IReadOnlyList<VersionedItem<TItem>>> GetStateItemsAsync(IEnumerable<ItemKey> keys, CancellationToken cancellationToken = default);

    /// <summary>Reads one page of the component's items in ascending id order, starting after <paramref name="after"/>.</summary>
    Task<StatePage<TItem>> GetAllStateItemsAsync(string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Reads every item of the component, page by page, in ascending id order.</summary>
    IAsyncEnumerable<VersionedItem<TItem>> GetAllStateItemsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the component's changes: without <paramref name="cursor"/>, first a snapshot of every
    /// item (<see cref="StateChangeKind.Set"/> events without a cursor) and a
    /// <see cref="StateChangeKind.SnapshotEnd"/>; then, or from <paramref name="cursor"/>, every
    /// later change, in order per item. Every event after the snapshot carries the cursor to resume
    /// from: watching again with it misses nothing and repeats nothing.
    /// </summary>
    /// <param name="prefix">Only items whose id starts with this (ordinal); <see langword="null"/> for all.</param>
    /// <param name="cursor">A cursor from an earlier event, to resume; <see langword="null"/> to start with a snapshot.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <exception cref="CursorExpiredException">The cursor is older than the cluster retains (also mid-stream, when reading too slowly); restart without one.</exception>
    /// <exception cref="InvalidRequestException">The cursor is not one of this cluster's.</exception>
    /// <exception cref="ReplicaUnavailableException">The stream broke (silo stopping, partition moving, connection lost); resume from the last cursor.</exception>
    IAsyncEnumerable<StateChange<TItem>> WatchAsync(string? prefix = null, string? cursor = null, CancellationToken cancellationToken = default);
}
