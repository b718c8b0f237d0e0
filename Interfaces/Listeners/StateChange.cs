namespace OrleansReplication;

/// <summary>What a <see cref="StateChange{TItem}"/> reports.</summary>
public enum StateChangeKind
{
    /// <summary>The item was created or updated, or is part of the initial snapshot.</summary>
    Set,

    /// <summary>The item was removed.</summary>
    Removed,

    /// <summary>The initial snapshot is complete; live changes follow. Carries the cursor of the snapshot.</summary>
    SnapshotEnd,
}

/// <summary>
/// One event of a component's change stream (<see cref="IStateReplicator{TItem}.WatchAsync"/>).
/// </summary>
/// <param name="Kind">Set, removed, or the end of the snapshot.</param>
/// <param name="Key">The item's key; <see langword="default"/> for <see cref="StateChangeKind.SnapshotEnd"/>.</param>
/// <param name="Value">The item's new value (<see cref="StateChangeKind.Set"/> only).</param>
/// <param name="Version">The item's version after the change; 0 for <see cref="StateChangeKind.SnapshotEnd"/>.</param>
/// <param name="Cursor">
/// Where to resume: everything up to this event, in every partition. Watching again with it
/// misses nothing and repeats nothing. <see langword="null"/> on snapshot items (a watch cut off
/// in the middle of its snapshot starts over without a cursor).
/// </param>
/// <typeparam name="TItem">The component's item type.</typeparam>
public sealed record StateChange<TItem>(StateChangeKind Kind, ItemKey Key, TItem? Value, long Version, string? Cursor)
{
    /// <summary>
    /// The item's current state sent in place of its changes since the cursor: its partition's
    /// new primary started its history after the cursor (it installed a snapshot or loaded from
    /// the store since), so earlier versions of this item after the cursor are folded into this
    /// one, and items removed in that gap are not reported. A listener that must see every version
    /// (an audit log) reconciles here; one that mirrors state needs nothing more.
    /// </summary>
    public bool CatchUp { get; init; }
}
