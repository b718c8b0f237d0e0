using Microsoft.Extensions.Logging;

namespace OrleansReplication.Silo.Replication;

/// <summary>The link's worker: catches the standby up from the log or by snapshot, and watches for missing acks.</summary>
internal abstract partial class ReplicaLink
{
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                switch (_state)
                {
                    case ReplicaLinkState.CatchingUp:
                        try
                        {
                            await CatchUpAsync(cancellationToken).ConfigureAwait(false);
                        }
                        catch (Exception ex)
                        {
                            // A failure racing with dispose (the standby's silo went away as the
                            // link was closed) ends the worker quietly; it must not fault the close.
                            if (cancellationToken.IsCancellationRequested)
                            {
                                return;
                            }

                            LogCatchUpFailed(StandbyWarningLevel(), _source!.PartitionId, Name, WarningWindow.TotalSeconds, ex);

                            await Task.Delay(CatchUpRetryDelay, Time, cancellationToken).ConfigureAwait(false);
                        }

                        break;
                    case ReplicaLinkState.Streaming:
                        var interval = Options.MaxAckDelay == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : Options.MaxAckDelay / 4;
                        if (!await _wake.WaitAsync(interval, Time, cancellationToken).ConfigureAwait(false))
                        {
                            CheckAckDelay();
                        }

                        break;
                    default:
                        await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>Sends the log from the link's next sequence (a snapshot first when the log no longer has it) until the standby reaches the live stream.</summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        // A link reaches the live stream only through here, so it is never streaming (or counted
        // in sync) before its transport can carry a record.
        await PrepareTransportAsync(cancellationToken).ConfigureAwait(false);

        // A snapshot of an earlier run that never reached the standby (its transport restarted) is
        // not waited for: only one this run sends keeps the link out of the in-sync set.
        Volatile.Write(ref _awaitedSnapshot, 0);
        var source = _source!;
        var log = source.Log;
        ReplicationLog.Pin? pin = null;
        var snapshotted = false;
        try
        {
            while (true)
            {
                long next;
                bool snapshot;
                lock (_gate)
                {
                    if (_state != ReplicaLinkState.CatchingUp)
                    {
                        return;
                    }

                    if (_restartFrom > 0)
                    {
                        _nextSequence = _restartFrom;
                        _restartFrom = 0;
                    }

                    next = _nextSequence;
                    snapshot = _needsSnapshot;
                    _needsSnapshot = false;
                }

                _readBuffer.Clear();
                if (snapshot || next > log.LastSequence + 1 || !log.TryRead(next, Options.CatchUpBatchChanges, Options.CatchUpBatchBytes, _readBuffer))
                {
                    pin?.Dispose();
                    pin = null;
                    var taken = await source.CaptureSnapshotAsync(cancellationToken).ConfigureAwait(false);
                    pin = taken.Pin;
                    await SendSnapshotAsync(source, taken, cancellationToken).ConfigureAwait(false);
                    snapshotted = true;
                    lock (_gate)
                    {
                        // Restarts asked for below the snapshot are obsolete: it covers them.
                        _nextSequence = taken.Sequence + 1;
                        _snapshotFloor = taken.Sequence;
                        if (_restartFrom <= _nextSequence)
                        {
                            _restartFrom = 0;
                        }
                    }

                    continue;
                }

                if (_readBuffer.Count == 0)
                {
                    bool streaming;
                    lock (_gate)
                    {
                        // The commit loop appends before it sends: with nothing in the log past what
                        // we sent, every later change reaches Send, which forwards it from now on.
                        streaming = _state == ReplicaLinkState.CatchingUp && _restartFrom == 0 && !_needsSnapshot && log.LastSequence < _nextSequence;
                        if (streaming)
                        {
                            SetStateLocked(ReplicaLinkState.Streaming);
                            _inSyncFrom = _nextSequence - 1;
                        }
                    }

                    if (streaming)
                    {
                        if (!snapshotted)
                        {
                            Interlocked.Increment(ref _logCatchUps);
                        }

                        if (TryJoin(source))
                        {
                            source.OnLinkChanged(this);
                        }

                        return;
                    }

                    continue;
                }

                var last = _readBuffer[^1].Sequence;
                var batch = ReplicatedChanges.ToBatch(source.PartitionId, source.Epoch, _readBuffer);
                await EnqueueAsync(new ReplicationMessage(batch, null, ReplicatedChanges.ApproximateBytes(batch)), cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _nextSequence = last + 1;
                }

                pin?.MoveTo(last + 1);
                OnSent(last);
            }
        }
        finally
        {
            pin?.Dispose();
            _readBuffer.Clear();
        }
    }

    private async Task SendSnapshotAsync(IReplicationSource source, PartitionSnapshot snapshot, CancellationToken cancellationToken)
    {
        var items = snapshot.Items;
        var requests = snapshot.Requests;
        var next = 0;
        var nextRequest = 0;
        var id = Random.Shared.NextInt64(1, long.MaxValue);

        // Until the standby reports this snapshot installed, it is not in sync, even if its applied
        // sequence already reaches the snapshot's (a resync replaces a diverged copy in place).
        Volatile.Write(ref _awaitedSnapshot, id);
        try
        {
            bool last;
            do
            {
                // The items first, then the recorded requests; each chunk bounded by count and bytes.
                var chunk = new SnapshotChunk { Partition = source.PartitionId, Epoch = source.Epoch, SnapshotSequence = snapshot.Sequence, SnapshotId = id };
                var bytes = 0;
                while (next < items.Count && chunk.Items.Count < Options.SnapshotChunkItems && bytes < Options.CatchUpBatchBytes)
                {
                    var (address, entry) = items[next++];
                    chunk.Items.Add(ReplicatedChanges.ToRecord(address, entry));
                    bytes += entry.Json.Length;
                }

                while (next == items.Count && nextRequest < requests.Count && chunk.Items.Count + chunk.Requests.Count < Options.SnapshotChunkItems && bytes < Options.CatchUpBatchBytes)
                {
                    var request = requests[nextRequest++];
                    chunk.Requests.Add(request.ToWire());
                    bytes += request.ApproximateBytes;
                }

                chunk.Last = last = next == items.Count && nextRequest == requests.Count;
                await EnqueueAsync(new ReplicationMessage(null, chunk, ReplicatedChanges.ApproximateBytes(chunk)), cancellationToken).ConfigureAwait(false);
            }
            while (!last);
        }
        catch
        {
            // Not all sent: the standby will not report it; the next catch-up decides again.
            Interlocked.CompareExchange(ref _awaitedSnapshot, 0, id);
            throw;
        }

        Interlocked.Increment(ref _snapshots);
        OnSent(snapshot.Sequence);
        LogSnapshotSent(source.PartitionId, Name, items.Count, snapshot.Sequence);
    }

    /// <summary>An in-sync standby that leaves a change unacknowledged for longer than <see cref="ReplicationOptions.MaxAckDelay"/> leaves the in-sync set.</summary>
    private void CheckAckDelay()
    {
        if (!_inSync || AppliedSequence >= SentSequence || Time.GetElapsedTime(Volatile.Read(ref _lastProgress)) < Options.MaxAckDelay)
        {
            return;
        }

        bool fell;
        lock (_gate)
        {
            fell = _state == ReplicaLinkState.Streaming;
            if (fell)
            {
                SetStateLocked(ReplicaLinkState.CatchingUp);
            }
        }

        if (fell)
        {
            ReportOutOfSync(_source!.PartitionId, $"no ack for {Options.MaxAckDelay.TotalSeconds:0.###} s", AppliedSequence, SentSequence);
            _source.OnLinkChanged(this);
        }
    }

    [LoggerMessage(EventId = ReplicationLogEvents.LinkInSync, Level = LogLevel.Debug, Message = "Partition {Partition}: standby {Standby} is in sync from sequence {Sequence} ({Snapshots} snapshots sent so far); writes wait for it again.")]
    private partial void LogInSync(int partition, string standby, long sequence, int snapshots);

    [LoggerMessage(EventId = ReplicationLogEvents.LinkSnapshotSent, Level = LogLevel.Debug, Message = "Partition {Partition}: sent standby {Standby} a snapshot of {Items} items at sequence {Sequence}.")]
    private partial void LogSnapshotSent(int partition, string standby, int items, long sequence);

    [LoggerMessage(EventId = ReplicationLogEvents.LinkCatchUpFailed, Message = "Partition {Partition}: catching standby {Standby} up failed; retrying in a second. (One warning per standby silo per {WindowSeconds} s; its other links log this at Debug.)")]
    private partial void LogCatchUpFailed(LogLevel level, int partition, string standby, double windowSeconds, Exception exception);
}
