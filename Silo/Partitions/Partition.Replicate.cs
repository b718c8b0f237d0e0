using System.Collections.Concurrent;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>The partition's links to its standbys: sending batches, consistent snapshots, and the Received / Applied watermarks.</summary>
internal sealed partial class Partition
{
    private readonly Lock _linksLock = new();
    private readonly ConcurrentQueue<TaskCompletionSource<PartitionSnapshot>> _snapshotRequests = new();

    // Replaced whole under _linksLock; read lock-free (Volatile) by the commit loop and by watermark
    // recomputation on any thread: each sees a consistent array, at worst one change old.
    private IReplicaLink[] _links = [];

    // The standby a failover would promote (SetPromotionCandidate); null: not known (no map, as in unit tests).
    private string? _promotionCandidate;

    ReplicationLog IReplicationSource.Log => _log;

    /// <summary>The partition's standbys, as this primary sees them (diagnostics).</summary>
    public IReadOnlyList<IReplicaLink> Links => Volatile.Read(ref _links);

    /// <summary>Adds a standby: the link catches it up (from the log, or by snapshot) and then streams to it. The partition owns the link from now on.</summary>
    public void AddLink(IReplicaLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (_status != PartitionStatus.Serving)
        {
            throw Unavailable();
        }

        lock (_linksLock)
        {
            if (Array.IndexOf(_links, link) >= 0)
            {
                throw new InvalidOperationException($"Partition {Id} already has the link to standby '{link.Name}'.");
            }

            // In the array before it starts: a link that reaches the live stream must see every later Send.
            Volatile.Write(ref _links, [.. _links, link]);
        }

        link.Attach(this);
    }

    /// <summary>Removes a standby (lost or replaced) and closes its link; writes stop waiting for it.</summary>
    public async Task RemoveLinkAsync(IReplicaLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        lock (_linksLock)
        {
            if (Array.IndexOf(_links, link) < 0)
            {
                return;
            }

            Volatile.Write(ref _links, _links.Where(l => !ReferenceEquals(l, link)).ToArray());
        }

        UpdateReplicaWatermarks();
        ForgetAntiEntropy(link);
        await link.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Asks the commit loop for a snapshot between two batches: consistent at the sequence it returns, with the log pinned after it.</summary>
    public async Task<PartitionSnapshot> CaptureSnapshotAsync(CancellationToken cancellationToken)
    {
        if (_status != PartitionStatus.Serving)
        {
            throw Unavailable();
        }

        var taken = new TaskCompletionSource<PartitionSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Cancelled before the loop serves it: the loop's TrySetResult then fails and it releases the pin.
        using var registration = cancellationToken.Register(static state => ((TaskCompletionSource<PartitionSnapshot>)state!).TrySetCanceled(), taken);
        _snapshotRequests.Enqueue(taken);
        if (!_requests.Writer.TryWrite(CommitRequest.Wake))
        {
            FailSnapshotRequests();
        }

        return await taken.Task.ConfigureAwait(false);
    }

    /// <summary>Called with the partition's id and epoch when a standby refuses its records for a newer epoch (this primary was deposed without handing off).</summary>
    public Action<int, long>? Deposed { get; init; }

    void IReplicationSource.OnLinkChanged(IReplicaLink link)
    {
        if (link.State == ReplicaLinkState.Deposed && _status == PartitionStatus.Serving && !HandedOff)
        {
            Deposed?.Invoke(Id, Epoch);
        }

        if (!UpdateReplicaWatermarks())
        {
            _persistNow.Set(); // the last in-sync standby (or the one a failover promotes) left: Applied waits for the store, so stop gathering
        }
    }

    /// <summary>Commit loop only: sends the batch's changes to every link as one batch.</summary>
    private void Replicate()
    {
        var links = Volatile.Read(ref _links);
        if (links.Length == 0)
        {
            return;
        }

        var batch = ReplicatedChanges.ToBatch(Id, Epoch, _changes);
        foreach (var link in links)
        {
            link.Send(batch);
        }
    }

    /// <summary>Commit loop only, between batches: the table is exactly at <see cref="LastSequence"/> here.</summary>
    private void ServeSnapshotRequests()
    {
        if (_snapshotRequests.IsEmpty)
        {
            return;
        }

        List<KeyValuePair<ItemAddress, ItemEntry>>? items = null;
        List<RecordedRequest>? requests = null;
        var sequence = _lastSequence;
        while (_snapshotRequests.TryDequeue(out var request))
        {
            if (items is null)
            {
                items = new List<KeyValuePair<ItemAddress, ItemEntry>>(Items.Count);
                Items.CopyTo(items);
                requests = _requestTable.Copy();
                requests.RemoveAll(static r => !r.Replicated);
            }

            var pin = _log.PinFrom(sequence + 1);
            if (!request.TrySetResult(new PartitionSnapshot(sequence, items, pin, requests)))
            {
                pin.Dispose();
            }
        }
    }

    private void FailSnapshotRequests()
    {
        while (_snapshotRequests.TryDequeue(out var request))
        {
            request.TrySetException(Unavailable());
        }
    }

    /// <summary>
    /// Names the standby that a failover would promote (the first live one of the map's row), or
    /// null. Writes are acknowledged by the standbys only while it is in sync: were it out of sync
    /// while another carries the writes, a failover would promote it without them.
    /// </summary>
    public void SetPromotionCandidate(string? standby)
    {
        if (Volatile.Read(ref _promotionCandidate) == standby)
        {
            return;
        }

        Volatile.Write(ref _promotionCandidate, standby);
        if (!UpdateReplicaWatermarks())
        {
            _persistNow.Set();
        }
    }

    /// <summary>
    /// Whether the in-sync standbys carry Applied and Received without the store: some standby is
    /// in sync, and so is the one a failover would promote (when known).
    /// </summary>
    private bool StandbysCarryAcknowledgements() => InSyncStandbys().Carry;

    // One pass over the links (it runs on every acknowledgement a standby sends): the lowest
    // Received and Applied sequences of the in-sync standbys, and whether they carry acknowledgements.
    private (long Received, long Applied, bool Carry) InSyncStandbys()
    {
        var candidate = Volatile.Read(ref _promotionCandidate);
        var received = long.MaxValue;
        var applied = long.MaxValue;
        var inSync = false;
        var candidateInSync = candidate is null;
        foreach (var link in Volatile.Read(ref _links))
        {
            if (link.InSync)
            {
                inSync = true;
                candidateInSync |= link.Name == candidate;
                received = Math.Min(received, link.ReceivedSequence);
                applied = Math.Min(applied, link.AppliedSequence);
            }
        }

        return (received, applied, inSync && candidateInSync);
    }

    /// <summary>
    /// Raises the Received and Applied watermarks to the lowest of the in-sync standbys' — or, when
    /// they do not carry acknowledgements (none in sync, or not the one a failover would promote), to
    /// the durable sequence: a write acknowledged at Applied must survive this silo's crash, and
    /// without that standby only the store guarantees that. Returns whether they carry them.
    /// </summary>
    private bool UpdateReplicaWatermarks()
    {
        var (received, applied, carry) = InSyncStandbys();
        if (_log is null)
        {
            return carry;
        }

        if (!carry)
        {
            received = applied = _log.DurableSequence;
        }

        _receivedWaiters.Advance(received);
        if (_appliedWaiters.Advance(applied))
        {
            NotifyWatchers();
        }

        return carry;
    }

    /// <summary>Everything up to <paramref name="sequence"/> survives this silo (in the store, or on the primary that took over): the Received and Applied writes up to there are acknowledged.</summary>
    private void AcknowledgeReplicatedUpTo(long sequence)
    {
        _receivedWaiters.Advance(sequence);
        if (_appliedWaiters.Advance(sequence))
        {
            NotifyWatchers();
        }
    }
}
