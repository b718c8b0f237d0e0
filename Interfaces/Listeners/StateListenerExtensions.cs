namespace OrleansReplication;

/// <summary>Drives an <see cref="IStateListener{TItem}"/> from a State Replicator's change stream.</summary>
public static class StateListenerExtensions
{
    /// <summary>
    /// Delivers the component's changes to <paramref name="listener"/> until
    /// <paramref name="cancellationToken"/> is cancelled or the stream fails; see
    /// <see cref="IStateReplicator{TItem}.WatchAsync"/> for <paramref name="prefix"/>, <paramref name="cursor"/> and the errors.
    /// </summary>
    public static async Task ListenAsync<TItem>(this IStateReplicator<TItem> replicator, IStateListener<TItem> listener, string? prefix = null, string? cursor = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replicator);
        ArgumentNullException.ThrowIfNull(listener);
        await foreach (var change in replicator.WatchAsync(prefix, cursor, cancellationToken).ConfigureAwait(false))
        {
            switch (change.Kind)
            {
                case StateChangeKind.Set:
                    await listener.StateSetAsync(change.Key, change.Value!, change.Version, change.Cursor, cancellationToken).ConfigureAwait(false);
                    break;
                case StateChangeKind.Removed:
                    await listener.StateRemovedAsync(change.Key, change.Version, change.Cursor!, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    await listener.SnapshotCompletedAsync(change.Cursor!, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }
}
