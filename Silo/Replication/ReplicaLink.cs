using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// The transport-independent half of a replica link: the sync state, the watermarks, and the
/// per-link worker that catches the standby up (from the log, else by snapshot) and watches for
/// missing acks. A transport derives from it and supplies the queue to the standby.
/// </summary>
/// <remarks>
/// The hand-over from catch-up to streaming is the one delicate point: the commit loop appends
/// to the log and then calls <see cref="Send"/>; the worker switches to streaming under
/// <see cref="_gate"/> only when the log holds nothing past what it sent. So every change is
/// sent exactly once, either by the worker (read from the log) or by <see cref="Send"/>; a batch
/// the worker already sent is recognised by its sequence and skipped.
/// </remarks>
internal abstract partial class ReplicaLink : IReplicaLink
{
    // A catch-up that failed (the partition stopped serving, a bug) is retried after this pause:
    // long enough not to spin, short next to a standby's life.
    private static readonly TimeSpan CatchUpRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly AsyncSignal _wake = new();
    private readonly CancellationTokenSource _stop = new();

    // Worker only (single reader), reused for every log read.
    private readonly List<LogEntry> _readBuffer = [];
    private readonly ILogger _logger;

    private IReplicationSource? _source;
    private Task? _worker;

    // Written under _gate; read lock-free by the commit loop (Send's fast path), the partition's
    // watermark recomputation and diagnostics. A stale read there only delays a decision by one batch.
    private volatile ReplicaLinkState _state = ReplicaLinkState.CatchingUp;

    // Written under _gate, read lock-free like _state. A streaming link joins the in-sync set (the
    // safety-level quorum) only once the standby applied everything up to the hand-over point
    // _inSyncFrom: a stalled standby that was handed the stream is not counted until it proves it drains.
    private volatile bool _inSync;
    private long _inSyncFrom;

    // Guarded by _gate: the next sequence to send; a restart point asked for by the standby (0: none); a snapshot asked for.
    private long _nextSequence;
    private long _restartFrom;
    private bool _needsSnapshot;

    // Guarded by _gate: the sequence of the last snapshot sent (-1: none). A standby that installed
    // it is at or past it, so a catch-up request from below it refers to records queued before the
    // snapshot and is obsolete.
    private long _snapshotFloor = -1;

    // Raised with InterlockedMax by the commit loop, the worker and ack threads; read anywhere.
    private long _sent;
    private long _received;
    private long _applied;

    // When the standby last made progress (or had nothing outstanding): the ack-delay check's clock.
    private long _lastProgress;
    private int _snapshots;

    // The snapshot sent last that the standby has not reported installed (0: none); it keeps the link out of the in-sync set.
    private long _awaitedSnapshot;
    private int _logCatchUps;

    protected ReplicaLink(string name, ReplicationOptions options, ILogger? logger, TimeProvider? timeProvider)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        Options = options;
        _logger = logger ?? NullLogger.Instance;
        Time = timeProvider ?? TimeProvider.System;
    }

    public string Name { get; }

    public ReplicaLinkState State => _state;

    public bool InSync => _inSync;

    public long SentSequence => Volatile.Read(ref _sent);

    public long ReceivedSequence => Volatile.Read(ref _received);

    public long AppliedSequence => Volatile.Read(ref _applied);

    public int SnapshotsSent => Volatile.Read(ref _snapshots);

    public int LogCatchUps => Volatile.Read(ref _logCatchUps);

    protected ReplicationOptions Options { get; }

    protected ILogger Logger => _logger;

    protected TimeProvider Time { get; }

    /// <summary>The partition this link replicates, once attached.</summary>
    protected IReplicationSource? Source => _source;

    public void Attach(IReplicationSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Interlocked.CompareExchange(ref _source, source, null) is not null)
        {
            throw new InvalidOperationException($"Replica link '{Name}' is already attached; create one link per standby and partition.");
        }

        var (applied, epoch) = GetStandbyPosition();
        lock (_gate)
        {
            _nextSequence = applied + 1;

            // A standby that followed another epoch may hold changes this primary never had: only
            // a snapshot replaces its history safely.
            _needsSnapshot = applied > 0 && epoch != source.Epoch;
        }

        if (epoch == source.Epoch)
        {
            InterlockedMax(ref _applied, applied);
            InterlockedMax(ref _received, applied);
            InterlockedMax(ref _sent, applied);
        }

        OnAttached();
        _worker = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    public void Send(ReplicationBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_state != ReplicaLinkState.Streaming || batch.Changes.Count == 0)
        {
            return; // catching up: the worker reads these changes from the log
        }

        var first = batch.Changes[0].Sequence;
        var last = batch.Changes[batch.Changes.Count - 1].Sequence;
        var bytes = ReplicatedChanges.ApproximateBytes(batch);
        string? lost = null;
        lock (_gate)
        {
            if (_state != ReplicaLinkState.Streaming || last < _nextSequence)
            {
                return;
            }

            if (first != _nextSequence)
            {
                lost = $"batch {first}..{last} does not follow {_nextSequence - 1}";
            }
            else if (!TryEnqueue(new ReplicationMessage(batch, null, bytes)))
            {
                lost = "its queue is full";
            }
            else
            {
                _nextSequence = last + 1;
            }

            if (lost is not null)
            {
                SetStateLocked(ReplicaLinkState.CatchingUp);
            }
        }

        if (lost is null)
        {
            OnSent(last);
            return;
        }

        ReportOutOfSync(_source!.PartitionId, lost, AppliedSequence, last);
        _wake.Set();
        _source.OnLinkChanged(this);
    }

    public bool TrySendAntiEntropy(ReplicationBatch record, long sequence)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            // Only right behind what was streamed: the standby applies it exactly at `sequence`.
            // A full queue drops it (the next round asks again): a check never costs a standby its sync.
            return _state == ReplicaLinkState.Streaming && _nextSequence == sequence + 1
                && TryEnqueue(new ReplicationMessage(record, null, ReplicatedChanges.ApproximateBytes(record)));
        }
    }

    public void Resync(string reason)
    {
        bool fell;
        lock (_gate)
        {
            if (_state is not (ReplicaLinkState.CatchingUp or ReplicaLinkState.Streaming))
            {
                return;
            }

            fell = _state == ReplicaLinkState.Streaming;
            _needsSnapshot = true;
            SetStateLocked(ReplicaLinkState.CatchingUp);
        }

        _wake.Set();
        if (fell && _source is { } source)
        {
            ReportOutOfSync(source.PartitionId, reason, AppliedSequence, SentSequence);
            source.OnLinkChanged(this);
        }
    }

    public void OnAck(ReplicationAck ack)
    {
        var source = _source;
        if (source is null || ack.Partition != source.PartitionId)
        {
            return;
        }

        if (ack.Epoch > source.Epoch)
        {
            Depose(source, ack.Epoch);
            return;
        }

        var changed = false;
        if (ack.CatchUpRequested && AcceptCatchUpRequest(source, ack))
        {
            _wake.Set();
            changed = true;
        }

        // Watermarks count only in the primary's own epoch: a standby of another history holds other changes.
        if (ack.Epoch == source.Epoch)
        {
            if (ack.InstalledSnapshot != 0)
            {
                Interlocked.CompareExchange(ref _awaitedSnapshot, 0, ack.InstalledSnapshot);
            }

            if (InterlockedMax(ref _applied, ack.AppliedSequence))
            {
                Volatile.Write(ref _lastProgress, Time.GetTimestamp());
                changed = true;
            }

            changed |= InterlockedMax(ref _received, ack.ReceivedSequence);
            if (!_inSync && _state == ReplicaLinkState.Streaming)
            {
                changed |= TryJoin(source);
            }
        }

        if (changed)
        {
            source.OnLinkChanged(this);
        }

        if (ack.Digest is { } answer && ack.Epoch == source.Epoch)
        {
            source.OnAntiEntropyAnswer(this, answer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_state == ReplicaLinkState.Closed)
            {
                return;
            }

            SetStateLocked(ReplicaLinkState.Closed);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_worker is not null)
        {
            await _worker.ConfigureAwait(false);
        }

        await DisposeTransportAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>The standby's applied sequence and epoch when the link starts (from the transport's handshake).</summary>
    protected abstract (long AppliedSequence, long Epoch) GetStandbyPosition();

    /// <summary>Queues a record for the standby without waiting; <see langword="false"/> when the queue is at its bound.</summary>
    protected abstract bool TryEnqueue(in ReplicationMessage message);

    /// <summary>Queues a record for the standby, waiting for room (catch-up only: its pace is the standby's).</summary>
    protected abstract ValueTask EnqueueAsync(ReplicationMessage message, CancellationToken cancellationToken);

    /// <summary>Starts the transport, right before the worker.</summary>
    protected virtual void OnAttached()
    {
    }

    /// <summary>Records up to <paramref name="lastSequence"/> were queued for the standby.</summary>
    protected virtual void OnEnqueued(long lastSequence)
    {
    }

    /// <summary>Makes the transport able to carry records (e.g. connects); awaited before every catch-up.</summary>
    protected virtual ValueTask PrepareTransportAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Whether the transport can carry records now; a link joins the in-sync set only then.</summary>
    protected virtual bool IsTransportReady => true;

    /// <summary>Stops the transport, after the worker.</summary>
    protected virtual ValueTask DisposeTransportAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// The transport lost records on their way (the standby's silo did not answer a call): a
    /// streaming link leaves the in-sync set at once, and the link catches the standby up from its
    /// last acknowledged sequence once the transport carries records again.
    /// </summary>
    protected void OnTransportBroken(string reason)
    {
        bool fell;
        lock (_gate)
        {
            if (_state is not (ReplicaLinkState.CatchingUp or ReplicaLinkState.Streaming))
            {
                return;
            }

            // Resend from what the standby acknowledged: nothing may follow the lost records, or
            // the standby would wait for a gap that no later write fills. A snapshot cut short is
            // sent again whole (the standby drops a staged one of another sequence).
            var applied = Volatile.Read(ref _applied);
            if (_snapshotFloor > applied)
            {
                _needsSnapshot = true;
            }
            else
            {
                _restartFrom = applied + 1;
            }

            fell = _state == ReplicaLinkState.Streaming;
            SetStateLocked(ReplicaLinkState.CatchingUp);
        }

        _wake.Set();
        if (fell && _source is { } source)
        {
            ReportOutOfSync(source.PartitionId, reason, AppliedSequence, SentSequence);
            source.OnLinkChanged(this);
        }
    }

    /// <summary>For transports whose queue is the standby's own: everything up to <paramref name="sequence"/> is received.</summary>
    protected void AdvanceReceived(long sequence)
    {
        if (InterlockedMax(ref _received, sequence) && _inSync)
        {
            _source?.OnLinkChanged(this);
        }
    }

    private static bool InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>The standby refused a record and asks to be caught up: restart from its applied sequence (or by snapshot, for another epoch's history).</summary>
    private bool AcceptCatchUpRequest(IReplicationSource source, ReplicationAck ack)
    {
        bool wasStreaming;
        lock (_gate)
        {
            if (_state is not (ReplicaLinkState.CatchingUp or ReplicaLinkState.Streaming)
                || (_snapshotFloor >= 0 && (ack.Epoch != source.Epoch || ack.AppliedSequence < _snapshotFloor)))
            {
                return false;
            }

            if (ack.Epoch == source.Epoch || (ack.Epoch == 0 && ack.AppliedSequence == 0))
            {
                _restartFrom = ack.AppliedSequence + 1;
            }
            else
            {
                _needsSnapshot = true;
            }

            wasStreaming = _state == ReplicaLinkState.Streaming;
            SetStateLocked(ReplicaLinkState.CatchingUp);
        }

        if (wasStreaming)
        {
            ReportOutOfSync(source.PartitionId, "the standby asked to be caught up", ack.AppliedSequence, SentSequence);
        }

        return true;
    }

    /// <summary>Sets the state; leaving <see cref="ReplicaLinkState.Streaming"/> also leaves the in-sync set. Under <see cref="_gate"/>.</summary>
    private void SetStateLocked(ReplicaLinkState state)
    {
        _state = state;
        if (state != ReplicaLinkState.Streaming)
        {
            _inSync = false;
        }
    }

    /// <summary>A streaming link joins the in-sync set once its standby applied up to the hand-over point.</summary>
    private bool TryJoin(IReplicationSource source)
    {
        long from;
        lock (_gate)
        {
            if (_inSync || _state != ReplicaLinkState.Streaming || Volatile.Read(ref _applied) < _inSyncFrom || Volatile.Read(ref _awaitedSnapshot) != 0 || !IsTransportReady)
            {
                return false;
            }

            from = _inSyncFrom;
            Volatile.Write(ref _lastProgress, Time.GetTimestamp());
            _inSync = true;
        }

        LogInSync(source.PartitionId, Name, from, SnapshotsSent);
        return true;
    }

    private void OnSent(long last)
    {
        if (Volatile.Read(ref _applied) >= Volatile.Read(ref _sent))
        {
            // The standby had nothing outstanding: its ack delay starts now.
            Volatile.Write(ref _lastProgress, Time.GetTimestamp());
        }

        InterlockedMax(ref _sent, last);
        OnEnqueued(last);
    }

    private void Depose(IReplicationSource source, long standbyEpoch)
    {
        lock (_gate)
        {
            if (_state is ReplicaLinkState.Deposed or ReplicaLinkState.Closed)
            {
                return;
            }

            SetStateLocked(ReplicaLinkState.Deposed);
        }

        LogDeposed(source.PartitionId, Name, standbyEpoch, source.Epoch);
        _wake.Set();
        source.OnLinkChanged(this);
    }

    // A standby silo that dies or pauses takes every partition's link to it out of sync at once: the
    // first says so at Warning, the others within WarningWindow at Debug (per silo: its logger).
    private static readonly TimeSpan WarningWindow = TimeSpan.FromSeconds(10);
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ILogger, System.Collections.Concurrent.ConcurrentDictionary<string, long>> WarnedAt = new();

    /// <summary>Whether this link's standby had no warning from this silo's links within <see cref="WarningWindow"/> (and notes one now).</summary>
    private bool FirstWarningForStandby()
    {
        var warned = WarnedAt.GetValue(_logger, static _ => new(StringComparer.Ordinal));
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (warned.TryGetValue(Name, out var last) && System.Diagnostics.Stopwatch.GetElapsedTime(last, now) < WarningWindow)
        {
            return false;
        }

        warned[Name] = now;
        return true;
    }

    /// <summary>Warning for the first of this silo's links to the standby within <see cref="WarningWindow"/>, Debug for the rest.</summary>
    protected LogLevel StandbyWarningLevel() => FirstWarningForStandby() ? LogLevel.Warning : LogLevel.Debug;

    private void ReportOutOfSync(int partition, string reason, long applied, long sequence) =>
        LogOutOfSync(StandbyWarningLevel(), partition, Name, reason, applied, sequence, WarningWindow.TotalSeconds);

    [LoggerMessage(EventId = ReplicationLogEvents.LinkOutOfSync, Message = "Partition {Partition}: standby {Standby} is out of sync ({Reason}; applied {Applied}, primary at {Sequence}). Writes no longer wait for it; it is being caught up. (One warning per standby silo per {WindowSeconds} s; its other links log this at Debug.)")]
    private partial void LogOutOfSync(LogLevel level, int partition, string standby, string reason, long applied, long sequence, double windowSeconds);

    [LoggerMessage(EventId = ReplicationLogEvents.LinkDeposed, Level = LogLevel.Warning, Message = "Partition {Partition}: standby {Standby} follows epoch {StandbyEpoch}, above ours ({Epoch}); this primary was deposed and stops replicating to it.")]
    private partial void LogDeposed(int partition, string standby, long standbyEpoch, long epoch);
}
