using System.Runtime.CompilerServices;

namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// The sources of a cluster watch: per group of partitions, a pump that reads them (here, or from
/// their primary's watch) into the merge channel, and reports how it ended.
/// </summary>
internal sealed partial class ClusterWatch
{
    /// <summary>How a source starts.</summary>
    private enum SourceMode
    {
        /// <summary>The listener's first snapshot (no cursor): its items pass through; its end counts toward the one snapshot-end.</summary>
        Snapshot,

        /// <summary>From the positions in the cursor.</summary>
        Resume,

        /// <summary>
        /// The partitions' new primary no longer holds the changes after the cursor (its log starts
        /// at its promotion): a snapshot of which only items changed after the cursor are delivered.
        /// </summary>
        Delta,
    }

    /// <summary>Starts one source per silo that leads some of <paramref name="partitions"/> now (local ones read here).</summary>
    private void Subscribe(int[] partitions, SourceMode mode, bool initial, List<Task> pumps, CancellationToken stop, bool everything = false)
    {
        var cursor = mode == SourceMode.Resume ? ChangeCursor.Encode(_positions) : null;
        // Grouped by where each partition is read: here (null), at a primary's HTTP endpoint, or
        // nowhere yet ("": no live primary; that source fails and is re-subscribed after a pause).
        foreach (var group in partitions.GroupBy(p => _feed.IsServed(p) ? null : _primaryHttp(p) ?? string.Empty))
        {
            var source = new Source([.. group], group.Key, group.Key is null, mode, initial, cursor) { Everything = everything };
            _sources.Add(source);
            if (mode == SourceMode.Snapshot && initial)
            {
                _pendingSnapshots++;
            }

            pumps.RemoveAll(t => t.IsCompleted);
            pumps.Add(Task.Run(() => PumpAsync(source, stop), CancellationToken.None));
        }

        if (mode == SourceMode.Snapshot && initial)
        {
            // A source re-opened during the snapshot replaces one that had not ended it.
            _pendingSnapshots = _sources.Count(s => s.Mode == SourceMode.Snapshot && s.Initial && !s.SnapshotEnded);
        }
    }

    private async Task PumpAsync(Source source, CancellationToken stop)
    {
        Exception ended;
        try
        {
            var events = source.Local ? ReadLocalAsync(source, stop) : RemoteWatch.ReadAsync(source.Target!, _component, _prefix, source.Cursor, source.Partitions, stop);
            await foreach (var change in events.ConfigureAwait(false))
            {
                // Live changes wait for the listener's snapshot to end, so every cursor it sees is complete.
                if (change.Cursor is not null && change.Kind != ChangeKind.SnapshotEnd && !_snapshotsDone.Task.IsCompleted)
                {
                    await _snapshotsDone.Task.WaitAsync(stop).ConfigureAwait(false);
                }

                await _events.Writer.WriteAsync(new SourceEvent(source, change, null), stop).ConfigureAwait(false);
            }

            ended = new ReplicaUnavailableException($"The watch stream from {source.Target} ended.", RetryDelay);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            ended = ex;
        }

        try
        {
            if (ended is not (CursorExpiredException or InvalidRequestException))
            {
                await Task.Delay(RetryDelay, stop).ConfigureAwait(false);
            }

            await _events.Writer.WriteAsync(new SourceEvent(source, default, ended), stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The listener went away.
        }
    }

    private async IAsyncEnumerable<ChangeFeedEvent> ReadLocalAsync(Source source, [EnumeratorCancellation] CancellationToken stop)
    {
        using var subscription = await _feed.OpenAsync(_component, _prefix, source.Cursor, stop, source.Partitions).ConfigureAwait(false);
        await foreach (var batch in subscription.ReadAsync(Timeout.InfiniteTimeSpan, stop).ConfigureAwait(false))
        {
            foreach (var change in batch)
            {
                yield return change;
            }
        }
    }

    /// <summary>Some partitions followed from one silo (or read here).</summary>
    private sealed class Source(int[] partitions, string? target, bool local, SourceMode mode, bool initial, string? cursor)
    {
        public int[] Partitions { get; } = partitions;

        /// <summary>The primary's HTTP endpoint; empty when the map names no live primary; null when read here.</summary>
        public string? Target { get; } = target;

        public bool Local { get; } = local;

        public SourceMode Mode { get; } = mode;

        /// <summary>Opened from the listener's own cursor or snapshot (not re-subscribed after a move).</summary>
        public bool Initial { get; } = initial;

        public string? Cursor { get; } = cursor;

        public bool SnapshotEnded { get; set; }

        /// <summary>A delta that delivers every item of the snapshot, not only those after the cursor.</summary>
        public bool Everything { get; init; }

        /// <summary>A delta's items, held until its snapshot ends and the cursor covers them.</summary>
        public List<ChangeFeedEvent> Delta { get; } = [];
    }

    private readonly record struct SourceEvent(Source Source, ChangeFeedEvent Event, Exception? Ended);
}
