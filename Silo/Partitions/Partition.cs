using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// One partition on its primary: the warm item table; the commit loop, the single point where the
/// partition's writes are validated (version / ETag), numbered with sequence numbers, applied,
/// logged and streamed to standbys (<c>Partition.Commit.cs</c>, <c>Partition.Replicate.cs</c>);
/// and the write-behind persister that group-commits the log to the store in sequence order
/// (<c>Partition.Persist.cs</c>).
/// </summary>
/// <remarks>
/// A write is acknowledged when its safety level's watermark reaches its last sequence number:
/// Local at once; Received / Applied when every in-sync standby queued / applied it (with no
/// in-sync standby, when the store has it: only the store then survives this silo's crash);
/// Durable when the store has it. The commit loop never waits for acks.
/// </remarks>
internal sealed partial class Partition : IReplicationSource
{
    // A Durable write failed for the store: long enough for a store restart or failover, short
    // enough that a caller retrying does not wait long after it.
    private static readonly TimeSpan StoreRetryAfter = TimeSpan.FromSeconds(1);

    private readonly Channel<CommitRequest> _requests = Channel.CreateUnbounded<CommitRequest>(new() { SingleReader = true });
    private readonly IStateStore _store;
    private readonly ILogger _logger;
    private readonly ReplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _stopLock = new();

    private Task? _loop;
    private Task? _persister;
    private Task? _stopping;

    // Created by LoadAsync before the loops start and never replaced: every thread reads the same instances.
    private ReplicationLog _log = null!;
    private SequenceWaiters _receivedWaiters = null!;
    private SequenceWaiters _appliedWaiters = null!;
    private SequenceWaiters _durableWaiters = null!;
    private RequestTable _requestTable = null!;

    // Written by the commit loop, read by diagnostics and snapshot takers: a stale read is harmless there.
    private long _lastSequence;
    private volatile PartitionStatus _status = PartitionStatus.Loading;

    public Partition(int id, IStateStore store, ILogger logger, ReplicationOptions? options = null, TimeProvider? timeProvider = null)
    {
        Id = id;
        _store = store;
        _logger = logger;
        _options = options ?? new ReplicationOptions();
        ReplicationOptionsValidator.ThrowIfInvalid(_options);
        _time = timeProvider ?? TimeProvider.System;
        Items = new ItemTable(_options.AntiEntropy.Clumps);
    }

    public int Id { get; }

    int IReplicationSource.PartitionId => Id;

    public ItemTable Items { get; private set; }

    /// <summary>The epoch this silo leads the partition in; its store writes and replication records carry it.</summary>
    public long Epoch { get; private set; }

    /// <summary>The sequence number of the last change applied to the warm table.</summary>
    public long LastSequence => Volatile.Read(ref _lastSequence);

    /// <summary>Every change up to here is persisted in the store.</summary>
    public long DurableSequence => _log?.DurableSequence ?? 0;

    /// <summary>The partition's retained changes (loaded partitions only).</summary>
    public ReplicationLog Log => _log;

    public PartitionStatus Status => _status;

    /// <summary>How many requests with an idempotency id the partition remembers (commit loop's view; diagnostics and tests).</summary>
    public int RememberedRequests => _requestTable?.Count ?? 0;

    /// <summary>Writes waiting for their safety level, per level (diagnostics).</summary>
    public (int Received, int Applied, int Durable) PendingWrites => _log is null ? default : (_receivedWaiters.Count, _appliedWaiters.Count, _durableWaiters.Count);

    /// <summary>Loads the partition from the store and starts its commit loop and persister, taking the next epoch.</summary>
    public Task LoadAndStartAsync(CancellationToken cancellationToken) => LoadAndStartAsync(null, cancellationToken);

    /// <summary>Loads the partition from the store and starts it as the primary of <paramref name="epoch"/> (claimed in the map), or of the stored epoch + 1 when null.</summary>
    public async Task LoadAndStartAsync(long? epoch, CancellationToken cancellationToken)
    {
        await LoadAsync(epoch, cancellationToken).ConfigureAwait(false);
        EpochClaimed = epoch is not null;
        StartLoops();
    }

    /// <summary>
    /// Whether the partition started at an epoch the partition map gave this silo. A partition
    /// loaded at the silo's start only guesses its epoch (the stored one + 1): the map may give this
    /// silo that same epoch later, after the previous primary wrote more, and the load is stale then.
    /// </summary>
    public bool EpochClaimed { get; private set; }

    /// <summary>Queues writes for the commit loop; completes when they reach their safety level (or fails with the reason).</summary>
    public Task<IReadOnlyList<WriteResult>> CommitAsync(CommitRequest request)
    {
        if (_status != PartitionStatus.Serving || !_requests.Writer.TryWrite(request))
        {
            // Stopping after a handoff: held (then redirected) like the requests queued before.
            return TryHold(request) ? request.Completion : Task.FromException<IReadOnlyList<WriteResult>>(Unavailable());
        }

        return request.EffectiveSafety == SafetyLevel.Durable && _options.DurableWriteTimeout != Timeout.InfiniteTimeSpan
            ? WithinStoreDeadlineAsync(request)
            : request.Completion;
    }

    // A Durable write waits for the store; while the store is down it fails after the deadline
    // rather than hold its caller. It stays queued or applied (and then becomes durable when the
    // store returns): a retry with its idempotency id is answered from it, so nothing is doubled.
    private async Task<IReadOnlyList<WriteResult>> WithinStoreDeadlineAsync(CommitRequest request)
    {
        try
        {
            return await request.Completion.WaitAsync(_options.DurableWriteTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!request.Completion.IsCompleted)
        {
            var state = request.Results is null ? "not applied yet (it still may be)" : "applied and will be durable once the store takes it";
            var retry = request.Key is { } key ? $"write again with the same idempotency id {key} to learn its outcome" : "read the items to learn its outcome (give writes an idempotency id to resolve them by retrying)";
            throw new StoreUnavailableException(
                $"Partition {Id}: the store did not confirm this Durable write within {_options.DurableWriteTimeout.TotalMilliseconds:0} ms (it is down or far behind). The write is {state}; {retry}.",
                StoreRetryAfter,
                request.Key?.ToIdempotencyId());
        }
    }

    /// <summary>
    /// Stops taking writes, lets the queued ones finish, persists everything applied (within
    /// <see cref="ReplicationOptions.StopFlushTimeout"/>), acknowledges what became durable, and
    /// closes the links. Idempotent.
    /// </summary>
    /// <param name="successor">The standby (link name) that leads the partition now, if known: the writes it applied before taking over are its state, and are acknowledged.</param>
    public Task StopAsync(string? successor = null)
    {
        lock (_stopLock)
        {
            _successor ??= successor;
            return _stopping ??= StopCoreAsync();
        }
    }

    // Under _stopLock, before the stop starts.
    private string? _successor;

    private async Task StopCoreAsync()
    {
        _requests.Writer.TryComplete();
        if (_loop is null || _persister is null)
        {
            _status = PartitionStatus.Stopped;
            NotifyWatchers();
            return;
        }

        if (_options.StopFlushTimeout != Timeout.InfiniteTimeSpan)
        {
            _persistStop.CancelAfter(_options.StopFlushTimeout);
        }

        await _loop.ConfigureAwait(false);
        _commitLoopEnded = true;
        _persistWork.Set();
        _persistNow.Set();
        await _persister.ConfigureAwait(false);

        // Everything the store has survives any crash: writes waiting for standbys are safe now.
        AcknowledgeReplicatedUpTo(_log.DurableSequence);

        // So is everything the new primary applied from this silo's stream before it took over.
        if (_successor is { } successor && Array.Find(Volatile.Read(ref _links), l => l.Name == successor) is { } next)
        {
            AcknowledgeReplicatedUpTo(next.AppliedSequence);
        }
        if (_status != PartitionStatus.Fenced)
        {
            _status = PartitionStatus.Stopped;
        }

        // After the status and the acknowledgements above: a woken listener delivers what it may of
        // the log, then its stream ends with a resumable error (it resumes from its cursor where the
        // partition is led now).
        NotifyWatchers();

        var error = Unavailable();
        _receivedWaiters.FailAll(error);
        _appliedWaiters.FailAll(error);
        _durableWaiters.FailAll(error);
        FailSnapshotRequests();
        FailCheckWaiters();

        IReplicaLink[] links;
        lock (_linksLock)
        {
            links = _links;
            _links = [];
        }

        foreach (var link in links)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        _persistStop.Dispose();
    }

    /// <summary>
    /// Starts this partition as the primary of <paramref name="epoch"/> (already claimed in the
    /// partition map) from a standby's warm copy instead of the store: the copy is merged with the
    /// store (<see cref="WarmCopyMerge"/>), the store is brought up to the merge in one transaction
    /// fenced by <paramref name="epoch"/>, and the loops start. No acknowledged write is lost,
    /// whichever of the copy and the store is ahead. The new primary remembers the union of the
    /// copy's and the store's recorded requests (idempotency ids); the store gets those it lacked
    /// in the same transaction.
    /// </summary>
    /// <remarks>
    /// The usual case reads only the partition's head (<see cref="IStateStore.LoadPartitionHeadAsync"/>):
    /// the copy follows the epoch just before <paramref name="epoch"/> and has applied exactly the
    /// stored sequence. Only that epoch's primary wrote the store since its own start (the map's
    /// CAS raised the fence), in sequence order, and the copy applied the same stream: copy and
    /// store hold the same changes, so the copy is the merge. Just as common after a crash, the
    /// store is behind (write-behind had not caught up) and the copy's tail holds every change
    /// since the stored sequence: persisting those brings the store to the copy. Otherwise (the
    /// store ahead, or behind by more than the tail) the merge needs every row: the store keeps no
    /// tombstones, so a removal on one side shows only as a row missing there. Returns which of the
    /// three it was. The log continues the copy's tail
    /// (<see cref="WarmCopy.Tail"/>) when the partition starts at the copy's state, so listeners
    /// resume across the promotion exactly; when the store was ahead, the log starts empty and a
    /// listener positioned before it is told the history restarted.
    /// </remarks>
    public async Task<WarmStart> StartFromWarmCopyAsync(WarmCopy copy, long epoch, CancellationToken cancellationToken)
    {
        EpochClaimed = true;
        var head = await _store.LoadPartitionHeadAsync(Id, cancellationToken).ConfigureAwait(false);
        if (head.Epoch > epoch)
        {
            // A newer primary raised the fence since the map this silo followed was read.
            throw new StaleEpochException(Id, epoch, head.Epoch, copy.Applied, head.LastSequence);
        }

        var follows = copy.Epoch == epoch - 1;
        var start = WarmStart.StoreAtCopy;
        if (follows && head.LastSequence < copy.Applied && await TryPersistTailAsync(copy, head, epoch, cancellationToken).ConfigureAwait(false))
        {
            head = head with { LastSequence = copy.Applied };
            start = WarmStart.TailPersisted;
        }

        if (head.LastSequence == copy.Applied && follows)
        {
            if (copy.Adopt?.Invoke(epoch) is { } table)
            {
                Items = table;
                Initialize([], copy.Applied, epoch, RecordedRequests.Union(copy.Requests, head), keepItems: true, tail: copy.Tail);
            }
            else
            {
                Initialize(
                    copy.Items.Select(i => KeyValuePair.Create(i.Key, new PendingEntry(i.Value.Version, i.Value.Json))),
                    copy.Applied,
                    epoch,
                    RecordedRequests.Union(copy.Requests, head),
                    tail: copy.Tail);
            }

            StartLoops();
            return start;
        }

        var data = await _store.LoadPartitionAsync(Id, cancellationToken).ConfigureAwait(false);
        var merge = WarmCopyMerge.Merge(copy.Items, copy.Applied, data);
        var requests = RecordedRequests.Union(copy.Requests, data);
        // Also with no row to write: the store must learn the last sequence, or versions used by
        // changes that netted out (created and removed after S) could be handed out again.
        if (merge.StoreWrites.Count > 0 || merge.LastSequence > data.LastSequence)
        {
            await _store.CommitAsync(Id, epoch, merge.LastSequence, merge.StoreWrites, RequestsAfter(copy, data.LastSequence), cancellationToken).ConfigureAwait(false);
        }

        // The store now holds the merge; when that is the copy, the copy's history leads to it.
        Initialize(merge.Items, merge.LastSequence, epoch, requests, tail: merge.IsCopy ? copy.Tail : null);
        StartLoops();
        return WarmStart.Merged;
    }

    /// <summary>
    /// The store behind the copy (the old primary's write-behind had not caught up), with the copy's
    /// tail holding every change since the store's sequence: those changes are the whole difference,
    /// so they are persisted (fenced by <paramref name="epoch"/>) instead of reading every row to
    /// merge. False when the tail does not reach back that far, or the store moved meanwhile.
    /// </summary>
    private async Task<bool> TryPersistTailAsync(WarmCopy copy, PartitionData head, long epoch, CancellationToken cancellationToken)
    {
        if (copy.Tail is not { Entries: { Length: > 0 } entries } || entries[0].Sequence > head.LastSequence + 1 || entries[^1].Sequence != copy.Applied)
        {
            return false;
        }

        var from = Array.FindIndex(entries, e => e.Sequence > head.LastSequence);
        var unpersisted = entries.AsSpan(from);
        var writes = new List<StoredWrite>();
        StoreFlush.Coalesce(unpersisted, new Dictionary<ItemAddress, StoreFlush.Item>(), writes);
        try
        {
            await _store.CommitAsync(Id, epoch, copy.Applied, writes, RequestsAfter(copy, head.LastSequence), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is StaleEpochException or StoreConflictException)
        {
            // The old primary persisted more after the head was read: merge with every row instead.
            return false;
        }
    }

    // The copy's recorded requests newer than the store's sequence: the store lacks them.
    private static RequestRecords RequestsAfter(WarmCopy copy, long storedSequence) =>
        new(RecordedRequests.ToStored([.. copy.Requests.Where(r => r.LastSequence > storedSequence)]), 0);

    private void StartLoops()
    {
        _loop = Task.Run(RunAsync, CancellationToken.None);
        _persister = Task.Run(PersistAsync, CancellationToken.None);
    }

    private async Task LoadAsync(long? epoch, CancellationToken cancellationToken)
    {
        var data = await _store.LoadPartitionAsync(Id, cancellationToken).ConfigureAwait(false);
        if (epoch is { } claimed && data.Epoch > claimed)
        {
            // A newer primary raised the fence since the map this silo followed was read: serving
            // the store's rows at the older epoch would be a stale copy beside it.
            throw new StaleEpochException(Id, claimed, data.Epoch, data.LastSequence, data.LastSequence);
        }

        Initialize(
            data.Items.Select(i => KeyValuePair.Create(new ItemAddress(i.Component, i.PartitionKey, i.Id), new PendingEntry(i.Version, i.Value))),
            data.LastSequence,
            epoch ?? data.Epoch + 1,
            RecordedRequests.FromStored(data.Requests));
    }

    // Everything up to lastSequence is in the store when this runs: the durable watermark starts
    // there. A tail (a promoted standby's recent changes, ending at lastSequence) starts the log.
    private void Initialize(IEnumerable<KeyValuePair<ItemAddress, PendingEntry>> items, long lastSequence, long epoch, IEnumerable<RecordedRequest> requests, bool keepItems = false, LogTail? tail = null)
    {
        _requestTable = new RequestTable(_options.RequestsRetained, _options.RequestRetention);
        foreach (var request in requests)
        {
            _requestTable.Add(request);
        }

        _requestTable.Expire(_time.GetUtcNow().ToUnixTimeMilliseconds());
        _requestsEvictedUpTo = _requestTable.EvictedUpTo;
        if (!keepItems)
        {
            Items.Clear();
            Items.Load(items);
        }

        Epoch = epoch;
        Volatile.Write(ref _lastSequence, lastSequence);
        _log = tail is null ? new ReplicationLog(lastSequence, _options) : new ReplicationLog(tail.StartSequence, tail.Entries, lastSequence, _options);
        _receivedWaiters = new SequenceWaiters(lastSequence);
        _appliedWaiters = new SequenceWaiters(lastSequence);
        _durableWaiters = new SequenceWaiters(lastSequence);
        _syncedUpTo = _log.DurableSequence;
        _syncNeededUpTo = _log.DurableSequence;
        _status = PartitionStatus.Serving;
    }

    private ReplicaUnavailableException Unavailable(Exception? inner = null) => _status switch
    {
        PartitionStatus.Fenced => new ReplicaUnavailableException($"Partition {Id} is no longer led by this silo (fenced at epoch {Epoch}); retry to reach its current primary.", TimeSpan.FromSeconds(1), inner),
        PartitionStatus.Serving when inner is not null => new ReplicaUnavailableException($"Partition {Id} could not commit the write: {inner.Message} Nothing was applied; retry.", TimeSpan.FromSeconds(1), inner),
        PartitionStatus.Stopped => new ReplicaUnavailableException($"Partition {Id} stopped on this silo before the write reached its safety level (it was applied here and may have taken effect); retry with the same idempotency id.", TimeSpan.FromSeconds(1), inner),
        _ => new ReplicaUnavailableException($"Partition {Id} is {_status.ToString().ToLowerInvariant()} on this silo; retry shortly.", TimeSpan.FromSeconds(1), inner),
    };

    [LoggerMessage(EventId = LogEvents.CommitFailed, Level = LogLevel.Error, Message = "Partition {Partition}: committing a batch of {Requests} requests failed; they were answered 'unavailable'.")]
    private partial void LogCommitFailed(int partition, int requests, Exception exception);

    [LoggerMessage(EventId = LogEvents.PartitionFenced, Level = LogLevel.Warning, Message = "Partition {Partition}: the store holds epoch {StoredEpoch}, above ours ({Epoch}); another silo leads it. This silo stopped serving the partition.")]
    private partial void LogFenced(int partition, long epoch, long storedEpoch);
}

/// <summary>Where a partition is in its life on this silo.</summary>
internal enum PartitionStatus
{
    Loading,
    Serving,
    Fenced,
    Stopped,
}
