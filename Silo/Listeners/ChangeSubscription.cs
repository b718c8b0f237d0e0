using System.Runtime.CompilerServices;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// One listener's change feed: per partition, a position and a pin on the log; one signal that
/// every served partition sets when its Applied watermark advances (the feed reads up to there
/// only) or it stops being served. Memory is bounded without a queue: changes stay in
/// the logs and are read one bounded batch at a time when the listener asks, so a slow listener
/// only falls behind; once the logs evict what it has not read (past the pin's
/// <see cref="ReplicationLog.PinnedRetentionFactor"/> bound), its stream ends with
/// <see cref="CursorExpiredException"/>. One reader at a time.
/// </summary>
internal sealed class ChangeSubscription : IDisposable
{
    private readonly string _component;
    private readonly string _prefix;
    private readonly Partition?[] _served;
    private readonly long[] _positions;
    private readonly ReplicationLog.Pin?[] _pins;
    private readonly ReplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly AsyncSignal _signal = new();
    private readonly List<LogEntry> _read = [];
    private PartitionSnapshot?[]? _snapshots;
    private int _nextPartition;

    public ChangeSubscription(string component, string prefix, Partition?[] served, long[] positions, ReplicationOptions options, TimeProvider time)
    {
        _component = component;
        _prefix = prefix;
        _served = served;
        _positions = positions;
        _pins = new ReplicationLog.Pin?[served.Length];
        _options = options;
        _time = time;

        // Registered before any position is taken: a change appended after it always wakes the reader.
        foreach (var partition in served)
        {
            partition?.AddWatcher(_signal);
        }
    }

    /// <summary>The position of everything delivered so far.</summary>
    public string Cursor => ChangeCursor.Encode(_positions);

    /// <summary>Takes a consistent snapshot of every served partition; the feed starts with them.</summary>
    public async Task CaptureSnapshotsAsync(CancellationToken cancellationToken)
    {
        var tasks = _served.Select(p => p?.CaptureSnapshotAsync(cancellationToken) ?? Task.FromResult<PartitionSnapshot>(null!)).ToArray();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            // Pins of the snapshots that were taken are owned here from now on, also on failure.
            _snapshots = tasks.Select(t => t.IsCompletedSuccessfully ? t.Result : null).ToArray();
            for (var p = 0; p < _snapshots.Length; p++)
            {
                if (_snapshots[p] is { } snapshot)
                {
                    _positions[p] = snapshot.Sequence;
                    _pins[p] = snapshot.Pin;
                }
            }
        }
    }

    /// <summary>Checks that each served partition's log still holds the change after the cursor, and pins it there.</summary>
    public void PinFromCursor(string cursor)
    {
        for (var p = 0; p < _served.Length; p++)
        {
            if (_served[p] is not { } partition)
            {
                continue;
            }

            if (_positions[p] > partition.LastSequence)
            {
                throw new InvalidRequestException($"The cursor '{cursor}' is ahead of partition {p} (at {_positions[p]}, the partition is at {partition.LastSequence}): it is not from this cluster, or the partition lost changes in a failover. Start from a snapshot (no cursor).");
            }

            _pins[p] = partition.Log.PinFrom(_positions[p] + 1);
            if (_positions[p] + 1 < partition.Log.FirstSequence)
            {
                throw partition.Log.FirstSequence == partition.Log.StartSequence
                    ? new PartitionHistoryRestartedException(p, _positions[p], partition.Log.StartSequence)
                    : Expired(p);
            }
        }
    }

    /// <summary>
    /// The events: the snapshot's items and a snapshot-end (when opened without a cursor), then live
    /// changes as they are committed, in batches (write and flush one batch at a time). An empty
    /// batch is a heartbeat: nothing happened for <paramref name="heartbeat"/>.
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<ChangeFeedEvent>> ReadAsync(TimeSpan heartbeat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_snapshots is { } snapshots)
        {
            // A snapshot is the table at its sequence, which may hold changes a failover would lose:
            // like the log, it is delivered once it survives a crash.
            while (WaitingSnapshot(snapshots) >= 0)
            {
                if (!await _signal.WaitAsync(heartbeat, _time, cancellationToken).ConfigureAwait(false))
                {
                    yield return [];
                }
            }

            _snapshots = null;
            var chunk = new List<ChangeFeedEvent>(_options.SnapshotChunkItems);
            foreach (var snapshot in snapshots)
            {
                foreach (var (address, entry) in snapshot?.Items ?? [])
                {
                    if (Matches(address))
                    {
                        chunk.Add(new ChangeFeedEvent(ChangeKind.Set, address, entry.Version, entry.Json, null));
                        if (chunk.Count == _options.SnapshotChunkItems)
                        {
                            yield return chunk;
                            chunk = new List<ChangeFeedEvent>(_options.SnapshotChunkItems);
                        }
                    }
                }
            }

            chunk.Add(new ChangeFeedEvent(ChangeKind.SnapshotEnd, default, 0, null, Cursor));
            yield return chunk;
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (batch, readAny) = ReadLogs();
            if (batch.Count > 0)
            {
                yield return batch;
            }
            else if (!readAny && !await _signal.WaitAsync(heartbeat, _time, cancellationToken).ConfigureAwait(false))
            {
                yield return [];
            }
        }
    }

    public void Dispose()
    {
        foreach (var partition in _served)
        {
            partition?.RemoveWatcher(_signal);
        }

        foreach (var pin in _pins)
        {
            pin?.Dispose();
        }
    }

    /// <summary>The first partition whose snapshot is past its Applied watermark still, or -1; throws when it stopped before it got there.</summary>
    private int WaitingSnapshot(PartitionSnapshot?[] snapshots)
    {
        for (var p = 0; p < snapshots.Length; p++)
        {
            if (snapshots[p] is { } snapshot && _served[p] is { } partition)
            {
                var stopped = Stopped(partition);
                if (partition.AppliedWatermark < snapshot.Sequence)
                {
                    return stopped ? throw StoppedHere(p) : p;
                }
            }
        }

        return -1;
    }

    /// <summary>Reads one bounded batch from the logs, round-robin over the partitions so a busy one cannot starve the others.</summary>
    private (List<ChangeFeedEvent> Batch, bool ReadAny) ReadLogs()
    {
        var batch = new List<ChangeFeedEvent>();
        var readAny = false;
        long budget = _options.CatchUpBatchBytes;
        for (var i = 0; i < _served.Length && budget > 0; i++)
        {
            var p = (_nextPartition + i) % _served.Length;
            if (_served[p] is not { } partition)
            {
                continue;
            }

            // A partition that stopped being served (handed off, deposed, fenced, or the silo stops)
            // keeps its log: what survives of it is delivered first, so the listener resumes at its
            // new primary without a gap. Read before the watermark: a stop raises it first.
            var stopped = Stopped(partition);

            // Only what survives a crash (see Partition.AppliedWatermark): a change past it may be
            // lost in a failover and its sequence reused, and the cursor would skip or repeat.
            var readable = (int)Math.Clamp(partition.AppliedWatermark - _positions[p], 0, _options.CatchUpBatchChanges);
            _read.Clear();
            if (!partition.Log.TryRead(_positions[p] + 1, readable, budget, _read))
            {
                throw Expired(p);
            }

            if (stopped && _read.Count == 0 && batch.Count == 0)
            {
                throw StoppedHere(p);
            }

            foreach (var entry in _read)
            {
                budget -= entry.ApproximateBytes;
                _positions[p] = entry.Sequence;
                if (Matches(entry.Address))
                {
                    var kind = entry.Value is null ? ChangeKind.Removed : ChangeKind.Set;
                    batch.Add(new ChangeFeedEvent(kind, entry.Address, entry.Sequence, entry.Value, Cursor));
                }
            }

            if (_read.Count > 0)
            {
                readAny = true;
                _pins[p]?.MoveTo(_positions[p] + 1);
            }
        }

        _nextPartition = (_nextPartition + 1) % _served.Length;
        _read.Clear();
        return (batch, readAny);
    }

    private static bool Stopped(Partition partition) => partition.Status != PartitionStatus.Serving || partition.HandedOff;

    private static ReplicaUnavailableException StoppedHere(int partition) =>
        new($"Partition {partition} stopped being served by this silo; resume from the last cursor (on the silo that leads it now).", TimeSpan.FromSeconds(1));

    private bool Matches(ItemAddress address) =>
        string.Equals(address.Component, _component, StringComparison.Ordinal) && address.Id.StartsWith(_prefix, StringComparison.Ordinal);

    private CursorExpiredException Expired(int partition) =>
        new($"The cursor is too old: partition {partition}'s log no longer holds the changes after sequence {_positions[partition]}. Restart from a snapshot (no cursor).");
}
