namespace OrleansReplication;

/// <summary>
/// Callbacks for a component's changes, driven by
/// <see cref="StateListenerExtensions.ListenAsync{TItem}(IStateReplicator{TItem}, IStateListener{TItem}, string?, string?, CancellationToken)"/>.
/// Calls are made one at a time, in the stream's order; a change is not delivered before the
/// previous call completes.
/// </summary>
/// <typeparam name="TItem">The component's item type.</typeparam>
public interface IStateListener<TItem>
{
    /// <summary>An item was created or updated (or is part of the initial snapshot, then <paramref name="cursor"/> is <see langword="null"/>).</summary>
    Task StateSetAsync(ItemKey key, TItem value, long version, string? cursor, CancellationToken cancellationToken);

    /// <summary>An item was removed.</summary>
    Task StateRemovedAsync(ItemKey key, long version, string cursor, CancellationToken cancellationToken);

    /// <summary>The initial snapshot was delivered completely; persist <paramref name="cursor"/> to resume later.</summary>
    Task SnapshotCompletedAsync(string cursor, CancellationToken cancellationToken) => Task.CompletedTask;
}
