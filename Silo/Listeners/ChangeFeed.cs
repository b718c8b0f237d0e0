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
    /// <see cref="ReplicaUnavailableException"/> (partitions not loaded or stopping). With
    /// <paramref name="only"/> (a fan-in from another silo), only those partitions, each of which
    /// must be served here.
    /// </summary>
    public async Task<ChangeSubscription> OpenAsync(string component, string? prefix, string? cursor, CancellationToken cancellationToken, IReadOnlyCollection<int>? only = null)
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
            served[p] = IsServed(p) ? all[p] : null;
        }

        foreach (var p in only ?? [])
        {
            if (p < 0 || p >= all.Count)
            {
                throw new InvalidRequestException($"Partition {p} does not exist; the cluster has {all.Count} partitions (0 to {all.Count - 1}).");
            }

            if (served[p] is null)
            {
                throw new ReplicaUnavailableException($"Partition {p} is not served by this silo right now (it moved, or is being promoted); ask its primary per the partition map.", TimeSpan.FromMilliseconds(200));
            }
        }

        if (only is not null)
        {
            for (var p = 0; p < all.Count; p++)
            {
                served[p] = only.Contains(p) ? served[p] : null;
            }
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

    /// <summary>Whether this silo leads <paramref name="partitionId"/> and serves it now.</summary>
    public bool IsServed(int partitionId) =>
        partitions.Leads(partitionId) && partitionId < partitions.PartitionCount && partitions.Partitions[partitionId].Status == PartitionStatus.Serving;

    /// <summary>The partition count (0 while loading).</summary>
    public int PartitionCount => partitions.PartitionCount;
}
