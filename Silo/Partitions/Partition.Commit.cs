using System.Runtime.InteropServices;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>The commit loop: validate, number, apply, log, replicate, hand each write to its safety level's waiters.</summary>
internal sealed partial class Partition
{
    // A batch stops growing at either bound, so one replication batch stays a few MiB.
    private const int MaxBatchRequests = 1024;
    private const int MaxBatchJsonBytes = 8 * 1024 * 1024;

    // Reused by the commit loop only (single reader), so a batch allocates no collections.
    private readonly List<CommitRequest> _batch = [];
    private readonly Dictionary<ItemAddress, PendingEntry> _overlay = [];
    private readonly List<LogEntry> _changes = [];
    private readonly List<(ItemAddress Address, bool HadPending, PendingEntry Previous)> _undo = [];

    // The commit loop's clock for the batch (Unix ms): the recorded time of its requests.
    private long _batchTimeMs;

    // Written by the commit loop, read by the persister: the store may drop recorded requests up to here.
    private long _requestsEvictedUpTo;

    private async Task RunAsync()
    {
        var reader = _requests.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            ServeSnapshotRequests();
            ServeAntiEntropy();
            if (HoldQueued())
            {
                continue; // sealed for a handoff (Partition.Handoff.cs)
            }

            if (MustWaitForStore())
            {
                await WaitForStoreAsync().ConfigureAwait(false);
                continue;
            }

            _batch.Clear();
            var bytes = 0;
            while (_batch.Count < MaxBatchRequests && bytes < MaxBatchJsonBytes && reader.TryRead(out var request))
            {
                if (!ReferenceEquals(request, CommitRequest.Wake))
                {
                    _batch.Add(request);
                    bytes += request.JsonBytes;
                }
            }

            if (_batch.Count == 0)
            {
                continue;
            }

            if (_status != PartitionStatus.Serving || _persistStop.IsCancellationRequested)
            {
                FailBatch(Unavailable());
                continue;
            }

            try
            {
                CommitBatch();
            }
            catch (Exception ex)
            {
                // A bug must not kill the loop (every later write would hang): fail this batch and keep serving.
                LogCommitFailed(Id, _batch.Count, ex);
                ForgetUnappliedRequests();
                FailBatch(Unavailable(ex));
            }
        }

        FailSnapshotRequests();
    }

    private void CommitBatch()
    {
        _overlay.Clear();
        _changes.Clear();
        _batchTimeMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        _requestTable.Expire(_batchTimeMs);
        var sequence = _lastSequence;
        var accepted = 0;
        for (var i = 0; i < _batch.Count; i++)
        {
            if (Validate(_batch[i], ref sequence))
            {
                _batch[accepted++] = _batch[i];
            }
        }

        _batch.RemoveRange(accepted, _batch.Count - accepted);
        OweSyncForDurableWrites();
        if (_changes.Count > 0)
        {
            // Log first: a catch-up worker that sees the log end here knows Send will bring the rest.
            _log.Append(CollectionsMarshal.AsSpan(_changes));
            Items.Apply(_overlay);
            Volatile.Write(ref _lastSequence, sequence);
            Replicate();
            _persistWork.Set();
        }

        foreach (var request in _batch)
        {
            Acknowledge(request);
        }

        _changes.Clear();
        Volatile.Write(ref _requestsEvictedUpTo, _requestTable.EvictedUpTo);
    }

    /// <summary>Checks and tentatively applies one request to the batch overlay; on a conflict, undoes it and fails the request.</summary>
    private bool Validate(CommitRequest request, ref long sequence)
    {
        if (request.Key is { } key && _requestTable.TryGet(key, out var recorded))
        {
            return Replay(request, recorded);
        }

        if (request.Key is { } httpKey && _requestTable.TryGetOtherFingerprint(httpKey, out _))
        {
            request.Fail(new IdempotencyKeyReusedException($"The Idempotency-Key '{httpKey.ClientId[RequestKey.HttpClientIdPrefix.Length..]}' was already used for another request (a different body, item, condition or safety); nothing was applied. A retry must send the same request; a new request needs a new key."));
            return false;
        }

        _undo.Clear();
        var startSequence = sequence;
        var startChanges = _changes.Count;
        List<VersionConflict>? conflicts = null;
        var results = new WriteResult[request.Writes.Count];
        for (var i = 0; i < request.Writes.Count; i++)
        {
            var write = request.Writes[i];
            var address = ItemAddress.From(request.Component, write.Key);
            var hadPending = _overlay.TryGetValue(address, out var pending);
            var current = hadPending ? (pending.Json is null ? 0 : pending.Version) : Items.Get(address)?.Version ?? 0;
            if (!write.Expect.IsSatisfiedBy(current))
            {
                (conflicts ??= []).Add(new VersionConflict(write.Key, write.Expect, current));
                continue;
            }

            if (write.Json is null && current == 0)
            {
                results[i] = new WriteResult(write.Key, 0, Removed: true, Changed: false, Created: false);
                continue;
            }

            sequence++;
            _undo.Add((address, hadPending, pending));
            _overlay[address] = new PendingEntry(sequence, write.Json);
            _changes.Add(new LogEntry(address, sequence, current, write.Json));
            results[i] = new WriteResult(write.Key, sequence, Removed: write.Json is null, Changed: true, Created: write.Json is not null && current == 0);
        }

        if (conflicts is null)
        {
            request.Results = results;
            request.LastSequence = sequence;
            if (request.Key is { } id)
            {
                Record(request, id, results, sequence > startSequence);
            }

            return true;
        }

        for (var u = _undo.Count - 1; u >= 0; u--)
        {
            var (address, hadPending, previous) = _undo[u];
            if (hadPending)
            {
                _overlay[address] = previous;
            }
            else
            {
                _overlay.Remove(address);
            }
        }

        _changes.RemoveRange(startChanges, _changes.Count - startChanges);
        sequence = startSequence;
        request.Fail(new VersionConflictException(conflicts));
        return false;
    }

    /// <summary>
    /// A retry of a recorded request: answered with the first attempt's results once its safety
    /// level reaches the first attempt's last sequence (the waiters never complete it earlier).
    /// </summary>
    private static bool Replay(CommitRequest request, RecordedRequest recorded)
    {
        if (!recorded.Matches(request.Component, request.Writes))
        {
            request.Fail(new InvalidRequestException($"The idempotency id {recorded.Key} was already used for another request (different items); a retry must send the same writes, and a new request needs a new id."));
            return false;
        }

        request.Results = recorded.Results;
        request.LastSequence = recorded.LastSequence;
        return true;
    }

    /// <summary>Records an accepted request under its id; one that changed something travels (and persists) with its last change.</summary>
    private void Record(CommitRequest request, RequestKey key, WriteResult[] results, bool changed)
    {
        var recorded = new RecordedRequest(key, request.LastSequence, _batchTimeMs, results) { Replicated = changed };
        _requestTable.Add(recorded);
        request.Recorded = recorded;
        if (changed)
        {
            _changes[^1] = _changes[^1] with { Request = recorded };
        }
    }

    /// <summary>After a failed batch: forgets the requests it recorded but never applied, so their retries apply.</summary>
    private void ForgetUnappliedRequests()
    {
        foreach (var request in _batch)
        {
            if (request.Recorded is { } recorded && (!recorded.Replicated || recorded.LastSequence > _lastSequence))
            {
                _requestTable.Forget(recorded);
            }
        }
    }

    /// <summary>
    /// Before the batch is logged (so that no flush of it can miss this): the store owes a sync up
    /// to the batch's last Durable write, replayed ones included.
    /// </summary>
    private void OweSyncForDurableWrites()
    {
        var needed = _syncNeededUpTo;
        foreach (var request in _batch)
        {
            if (request.EffectiveSafety == SafetyLevel.Durable && request.LastSequence > needed)
            {
                needed = request.LastSequence;
            }
        }

        Volatile.Write(ref _syncNeededUpTo, needed);
    }

    /// <summary>Completes a Local write now; hands any other to the waiters of its safety level.</summary>
    private void Acknowledge(CommitRequest request)
    {
        switch (request.EffectiveSafety)
        {
            case SafetyLevel.Local:
                request.Complete();
                break;
            case SafetyLevel.Received:
                _receivedWaiters.Add(request.LastSequence, request);
                break;
            case SafetyLevel.Durable:
                _durableWaiters.Add(request.LastSequence, request);
                _persistNow.Set();
                _persistWork.Set(); // a replayed write may find nothing to flush, only a sync owed
                break;
            default:
                _appliedWaiters.Add(request.LastSequence, request);
                break;
        }
    }

    private void FailBatch(Exception error)
    {
        foreach (var request in _batch)
        {
            request.Fail(error);
        }
    }

    /// <summary>Whether the store is so far behind that the loop must wait before taking more writes (memory stays bounded).</summary>
    private bool MustWaitForStore() =>
        _status == PartitionStatus.Serving
        && !_persistStop.IsCancellationRequested
        && (_log.UnpersistedChanges >= MaxUnpersistedChanges() || _log.UnpersistedBytes >= _options.MaxUnpersistedBytes);

    // With no in-sync standby, Applied writes wait for the store behind the whole backlog: keep it short.
    private int MaxUnpersistedChanges() =>
        StandbysCarryAcknowledgements() ? _options.MaxUnpersistedChanges : Math.Min(_options.MaxUnpersistedChanges, _options.MaxUnpersistedChangesWithoutStandby);

    private async Task WaitForStoreAsync()
    {
        try
        {
            await _persisted.WaitAsync(_persistStop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_persistStop.IsCancellationRequested)
        {
            // Stopping gave up on the store: the loop fails what is left.
        }
    }
}
