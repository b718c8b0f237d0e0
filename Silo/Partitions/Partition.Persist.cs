using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// The write-behind persister: takes changes from the log in sequence order, coalesces them per
/// item, and commits them in one store transaction per flush (fenced by the epoch). It flushes as
/// soon as something waits for the store; otherwise it first gathers for
/// <see cref="ReplicationOptions.PersistGatherDelay"/>, and whatever accumulates meanwhile (or during
/// a flush) goes into the next one (group commit).
/// </summary>
internal sealed partial class Partition
{
    private readonly AsyncSignal _persistWork = new();
    private readonly AsyncSignal _persisted = new();

    // Set when a write waits for the store (Durable, or Applied with no in-sync standby): ends a gather.
    private readonly AsyncSignal _persistNow = new();

    // Cancelled when a stop gives up on the store (StopFlushTimeout); read by the commit loop and the persister.
    private readonly CancellationTokenSource _persistStop = new();

    // Reused by the persister only (single reader).
    private readonly List<LogEntry> _flushEntries = [];
    private readonly Dictionary<ItemAddress, StoreFlush.Item> _flushItems = [];
    private readonly List<StoredWrite> _storedWrites = [];
    private readonly List<RecordedRequest> _flushRequests = [];

    // Written by the commit loop before it logs a Durable write (or answers a replayed one): the
    // store must have everything up to here on disk, not only in the OS's cache, before Durable
    // waiters are answered.
    private long _syncNeededUpTo;

    // Persister only: everything up to here is on disk (a CommitSync.Disk commit or a sync).
    private long _syncedUpTo;

    // Persister only: the store has forgotten recorded requests up to here.
    private long _requestsForgottenUpTo;

    // Set by StopCoreAsync once the commit loop ended; read by the persister: drain, then exit.
    private volatile bool _commitLoopEnded;

    // While the store keeps failing, a warning at most this often per partition.
    private static readonly TimeSpan PersistFailureLogInterval = TimeSpan.FromSeconds(10);

    private async Task PersistAsync()
    {
        var token = _persistStop.Token;
        var delay = _options.PersistRetryInitialDelay;

        // Set when a commit failed without an answer (the connection broke, the server crashed):
        // it may have landed all the same, and retrying its writes would find them there already.
        var landedUnknown = false;

        // The current streak of failed commits (a store outage): when it began, how many, when last logged.
        var failures = 0;
        var failingSince = 0L;
        var loggedAt = 0L;
        try
        {
            while (_status != PartitionStatus.Fenced)
            {
                var durable = _log.DurableSequence;
                if (durable >= _log.LastSequence && (_syncedUpTo >= durable || !SyncOwed()))
                {
                    if (_commitLoopEnded)
                    {
                        return;
                    }

                    await _persistWork.WaitAsync(token).ConfigureAwait(false);
                    continue;
                }

                if (durable < _log.LastSequence && !NeedsStoreNow())
                {
                    await _persistNow.WaitAsync(_options.PersistGatherDelay, _time, token).ConfigureAwait(false);
                }

                long last;
                var forget = Volatile.Read(ref _requestsEvictedUpTo);
                var sync = SyncOwed() ? CommitSync.Disk : CommitSync.Process;
                try
                {
                    if (landedUnknown)
                    {
                        var head = await _store.LoadPartitionHeadAsync(Id, token).ConfigureAwait(false);
                        landedUnknown = false;
                        if (head.Epoch == Epoch && head.LastSequence > durable && head.LastSequence <= _log.LastSequence)
                        {
                            // Only this primary commits at its epoch: the failed commit landed.
                            LogCommitLandedUnanswered(Id, durable + 1, head.LastSequence);
                            _log.MarkDurable(head.LastSequence);
                            UpdateReplicaWatermarks();
                            _persisted.Set();
                            continue;
                        }
                    }

                    if (durable >= _log.LastSequence)
                    {
                        // Everything is in the store, some of it not yet on disk, and a Durable write waits for it.
                        await _store.SyncAsync(token).ConfigureAwait(false);
                        last = durable;
                    }
                    else
                    {
                        last = BuildFlush(durable + 1, forget);
                        var requests = _flushRequests.Count == 0 && forget <= _requestsForgottenUpTo
                            ? RequestRecords.None
                            : new RequestRecords(RecordedRequests.ToStored(_flushRequests), forget > _requestsForgottenUpTo ? forget : 0);
                        await _store.CommitAsync(Id, Epoch, last, _storedWrites, requests, sync, token).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is StaleEpochException or StoreConflictException)
                {
                    Fence(ex);
                    return;
                }
                catch (Exception ex) when (!token.IsCancellationRequested)
                {
                    // The store is down or slow: the changes stay in the log, writes waiting for
                    // Durable stay pending, and the same range (plus whatever came since) is retried.
                    // One warning when a streak begins, then one per PersistFailureLogInterval: an
                    // outage of minutes says so without a line per retry.
                    var now = _time.GetTimestamp();
                    if (failures++ == 0)
                    {
                        failingSince = now;
                    }

                    if (failures == 1 || _time.GetElapsedTime(loggedAt, now) >= PersistFailureLogInterval)
                    {
                        loggedAt = now;
                        LogPersistFailed(Id, durable + 1, _log.LastSequence, failures, _time.GetElapsedTime(failingSince, now).TotalSeconds, delay.TotalMilliseconds, ex);
                    }

                    landedUnknown = true;
                    await Task.Delay(delay, _time, token).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.PersistRetryMaxDelay.Ticks));
                    continue;
                }

                delay = _options.PersistRetryInitialDelay;
                if (failures > 0)
                {
                    LogPersistRecovered(Id, failures, _time.GetElapsedTime(failingSince).TotalSeconds);
                    failures = 0;
                }

                _requestsForgottenUpTo = Math.Max(_requestsForgottenUpTo, forget);
                _log.MarkDurable(last);
                if (sync == CommitSync.Disk)
                {
                    _syncedUpTo = last;
                    _durableWaiters.Advance(last);
                }

                UpdateReplicaWatermarks();
                _persisted.Set();
            }
        }
        catch (Exception) when (token.IsCancellationRequested)
        {
            // Stopping gave up on the store (whatever the last attempt threw).
            LogStopTimedOut(Id, _options.StopFlushTimeout.TotalSeconds, _log.DurableSequence, _log.LastSequence);
        }
        finally
        {
            _flushEntries.Clear();
            _flushItems.Clear();
            _storedWrites.Clear();
            _flushRequests.Clear();
            _persisted.Set();
        }
    }

    /// <summary>
    /// Whether the next commit must be on disk: a Durable write waits (its sequence is at or below
    /// <see cref="_syncNeededUpTo"/>, set before it was logged), or the partition stops. Write-behind
    /// otherwise leaves its commits in the OS's cache (<see cref="CommitSync.Process"/>): the
    /// standbys carry them meanwhile, and a crash of this process loses nothing the OS holds.
    /// </summary>
    private bool SyncOwed() => _commitLoopEnded || Volatile.Read(ref _syncNeededUpTo) > _syncedUpTo;

    /// <summary>Whether the persister must flush without gathering: a write or a stop waits for the store, or the backlog fills a flush.</summary>
    private bool NeedsStoreNow() =>
        _options.PersistGatherDelay <= TimeSpan.Zero
        || _commitLoopEnded
        || _durableWaiters.Count > 0
        || !StandbysCarryAcknowledgements()
        || _log.UnpersistedChanges >= _options.FlushMaxChanges;

    /// <summary>Reads the next flush from the log and builds its store writes and recorded requests (those not forgotten already); returns its last sequence.</summary>
    private long BuildFlush(long fromSequence, long requestsForgottenUpTo)
    {
        _flushEntries.Clear();
        _flushItems.Clear();
        _storedWrites.Clear();
        _flushRequests.Clear();
        if (!_log.TryRead(fromSequence, _options.FlushMaxChanges, _options.FlushMaxBytes, _flushEntries) || _flushEntries.Count == 0)
        {
            throw new InvalidOperationException($"Partition {Id}: the log no longer holds unpersisted sequence {fromSequence}; this is a bug (unpersisted changes are never evicted).");
        }

        // The store holds each item as of the change before this flush, so an item's expected
        // version is the version before its first change in the flush; its new state is its last.
        StoreFlush.Coalesce(CollectionsMarshal.AsSpan(_flushEntries), _flushItems, _storedWrites);
        foreach (var entry in CollectionsMarshal.AsSpan(_flushEntries))
        {
            if (entry.Request is { } request && request.LastSequence > requestsForgottenUpTo)
            {
                _flushRequests.Add(request);
            }
        }

        return _flushEntries[^1].Sequence;
    }

    /// <summary>
    /// Fenced because the store, at this primary's own epoch, holds other changes than its log
    /// (another writer): the partition map will not move it on, so the partition manager reloads it
    /// from the store here (<see cref="PartitionManager.ApplyRolesAsync"/>).
    /// </summary>
    public bool StoreDiverged { get; private set; }

    /// <summary>Stops serving: the store holds a newer epoch (another silo leads) or no longer matches the warm copy.</summary>
    private void Fence(Exception exception)
    {
        if (exception is StaleEpochException stale && stale.StoredEpoch > Epoch)
        {
            LogFenced(Id, Epoch, stale.StoredEpoch);
        }
        else
        {
            StoreDiverged = true;
            LogStoreDiverged(Id, _log.DurableSequence + 1, _log.LastSequence, exception);
        }

        _status = PartitionStatus.Fenced;

        var error = Unavailable(exception);
        _durableWaiters.FailAll(error);
        _appliedWaiters.FailAll(error);
        _receivedWaiters.FailAll(error);
        _persisted.Set();
        NotifyWatchers(); // their streams end: the partition is led elsewhere
    }

    [LoggerMessage(EventId = ReplicationLogEvents.PersistFailed, Level = LogLevel.Warning, Message = "Partition {Partition}: persisting changes {From}..{To} failed ({Failures} attempts in a row over {Seconds:0.0} s); retrying in {DelayMs} ms. Writes waiting for Durable (and for Applied with no in-sync standby) wait meanwhile. Check the store's health.")]
    private partial void LogPersistFailed(int partition, long from, long to, int failures, double seconds, double delayMs, Exception exception);

    [LoggerMessage(EventId = ReplicationLogEvents.PersistRecovered, Level = LogLevel.Information, Message = "Partition {Partition}: the store takes changes again, after {Failures} failed attempts over {Seconds:0.0} s.")]
    private partial void LogPersistRecovered(int partition, int failures, double seconds);

    [LoggerMessage(EventId = ReplicationLogEvents.PersistLandedUnanswered, Level = LogLevel.Information, Message = "Partition {Partition}: the store had committed changes {From}..{To} although the commit failed without an answer; persisting goes on after them.")]
    private partial void LogCommitLandedUnanswered(int partition, long from, long to);

    [LoggerMessage(EventId = ReplicationLogEvents.PersistStopTimedOut, Level = LogLevel.Error, Message = "Partition {Partition}: stopping gave up on the store after {Seconds} s with changes {Durable}..{Last} not persisted; writes still waiting for them were answered 'unavailable'.")]
    private partial void LogStopTimedOut(int partition, double seconds, long durable, long last);

    [LoggerMessage(EventId = ReplicationLogEvents.StoreDiverged, Level = LogLevel.Error, Message = "Partition {Partition}: the store no longer matches this primary's changes (another writer?); this silo stopped serving the partition and reloads it from the store, dropping its changes {From}..{To} that the store does not have. Find what else writes to the store.")]
    private partial void LogStoreDiverged(int partition, long from, long to, Exception exception);
}
