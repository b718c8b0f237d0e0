using OrleansReplication.Silo.Api;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// Opens change feeds of one component across the partitions this silo leads: a snapshot (late
/// joiner) or a resume from a cursor, then live changes read from each partition's log.
/// </summary>
internal sealed class ChangeFeed(PartitionManager partitions, ReplicationOptions options, TimeProvider timeProvider)
{
    /// <summary>
    /// Validates the request and positions the subscription: takes the snapshots, or checks that
    /// every partition's log still holds the change after the cursor. Throws before anything is
    /// sent: <see cref="InvalidRequestException"/> (bad component or cursor),
    /// <see cref="CursorExpiredException"/> (cursor older than the logs retain),
    /// <see cref="ReplicaUnavailableException"/> (partitions not loaded or stopping).
    /// </summary>
    public async Task<ChangeSubscription> OpenAsync(string component, string? prefix, string? cursor, CancellationToken cancellationToken)
    {
        RequestValidator.Component(component);
        var all = partitions.Partitions;
        if (all.Count == 0)
        {
            throw new ReplicaUnavailableException("The silo is still loading its partitions; retry shortly.", TimeSpan.FromSeconds(1));
        }

        var positions = string.IsNullOrEmpty(cursor) ? new long[all.Count] : ChangeCursor.Decode(cursor, all.Count);
        var served = new Partition?[all.Count];
        for (var p = 0; p < all.Count; p++)
        {
            served[p] = partitions.Leads(p) && all[p].Status == PartitionStatus.Serving ? all[p] : null;
        }

        var subscription = new ChangeSubscription(component, prefix ?? string.Empty, served, positions, options, timeProvider);
        try
        {
            if (string.IsNullOrEmpty(cursor))
            {
                await subscription.CaptureSnapshotsAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                subscription.PinFromCursor(cursor);
            }

            return subscription;
        }
        catch
        {
            subscription.Dispose();
            throw;
        }
    }
}
