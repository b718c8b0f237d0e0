using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Api;

namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// A watch of one component over every partition of the cluster, served by any silo: the
/// partitions led here are read from their logs, the others are fanned in from their primaries'
/// watch endpoints (restricted to those partitions), and the streams are merged under one cursor.
/// A stream that ends (its silo died, or a partition moved) is re-subscribed where the map now
/// says, from each partition's position in the cursor, so nothing is missed and nothing repeats.
/// One reader at a time (<see cref="ReadAsync"/>); the merge state is the reader's alone.
/// </summary>
internal sealed partial class ClusterWatch
{
    private const int MaxBatch = 512;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);

    private readonly ChangeFeed _feed;
    private readonly Func<int, string?> _primaryHttp;
    private readonly string _component;
    private readonly string _prefix;
    private readonly long[] _positions;
    private readonly ILogger _logger;
    private readonly Channel<SourceEvent> _events = Channel.CreateBounded<SourceEvent>(new BoundedChannelOptions(4 * MaxBatch) { SingleReader = true });
    private readonly TaskCompletionSource _snapshotsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<Source> _sources = [];
    private readonly bool _fromSnapshot;
    private int _pendingSnapshots;

    private ClusterWatch(ChangeFeed feed, Func<int, string?> primaryHttp, string component, string prefix, long[] positions, bool fromSnapshot, ILogger logger)
    {
        _feed = feed;
        _primaryHttp = primaryHttp;
        _component = component;
        _prefix = prefix;
        _positions = positions;
        _fromSnapshot = fromSnapshot;
        _logger = logger;
        if (!fromSnapshot)
        {
            _snapshotsDone.SetResult();
        }
    }

    /// <summary>Validates the request (<see cref="InvalidRequestException"/>, <see cref="ReplicaUnavailableException"/>) before anything is sent.</summary>
    public static ClusterWatch Open(ChangeFeed feed, Func<int, string?> primaryHttp, string component, string? prefix, string? cursor, ILogger logger)
    {
        RequestValidator.Component(component);
        var count = feed.PartitionCount;
        if (count == 0)
        {
            throw new ReplicaUnavailableException("The silo is still loading its partitions; retry shortly.", TimeSpan.FromSeconds(1));
        }

        var fromSnapshot = string.IsNullOrEmpty(cursor);
        var positions = fromSnapshot ? new long[count] : ChangeCursor.Decode(cursor!, count);
        return new ClusterWatch(feed, primaryHttp, component, prefix ?? string.Empty, positions, fromSnapshot, logger);
    }

    /// <summary>The merged events, in batches; an empty batch is a heartbeat (nothing for <paramref name="heartbeat"/>).</summary>
    public async IAsyncEnumerable<IReadOnlyList<ChangeFeedEvent>> ReadAsync(TimeSpan heartbeat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pumps = new List<Task>();
        try
        {
            Subscribe([.. Enumerable.Range(0, _positions.Length)], _fromSnapshot ? SourceMode.Snapshot : SourceMode.Resume, initial: true, pumps, stop.Token);
            var reader = _events.Reader;
            while (true)
            {
                if (!reader.TryPeek(out _) && !await WaitForEventAsync(reader, heartbeat, cancellationToken).ConfigureAwait(false))
                {
                    yield return [];
                    continue;
                }

                var output = new List<ChangeFeedEvent>();
                while (output.Count < MaxBatch && reader.TryRead(out var next))
                {
                    Handle(next, output, pumps, stop.Token);
                }

                if (output.Count > 0)
                {
                    yield return output;
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async Task<bool> WaitForEventAsync(ChannelReader<SourceEvent> reader, TimeSpan heartbeat, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(heartbeat);
        try
        {
            return await reader.WaitToReadAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private void Handle(SourceEvent next, List<ChangeFeedEvent> output, List<Task> pumps, CancellationToken stop)
    {
        var source = next.Source;
        if (!_sources.Contains(source))
        {
            return; // ended already; its partitions are followed by another source
        }

        if (next.Ended is { } ended)
        {
            _sources.Remove(source);
            if (ended is CursorExpiredException || (ended is InvalidRequestException && source.Initial && source.Mode == SourceMode.Resume))
            {
                // Fell behind what the logs retain, or the listener's own cursor is not ours: as on one silo.
                throw ended;
            }

            // A partition restarted after the cursor (promoted, loaded) gets a delta of its state; one
            // whose new primary is behind what was delivered (changes lost with the old primary) gets
            // all of its state again, since the new history reuses those sequence numbers.
            var mode = ended is PartitionHistoryRestartedException or InvalidRequestException || (source.Mode == SourceMode.Delta && !source.SnapshotEnded) ? SourceMode.Delta
                : source.Mode == SourceMode.Snapshot && !source.SnapshotEnded ? SourceMode.Snapshot
                : SourceMode.Resume;
            var everything = ended is InvalidRequestException || (source.Mode == SourceMode.Delta && source.Everything && !source.SnapshotEnded);
            LogResubscribing(_component, string.Join(",", source.Partitions), string.Join(",", source.Partitions.Select(p => _positions[p])), source.Local ? "this silo" : source.Target is { Length: > 0 } target ? target : "(no live primary)", ended.Message, mode.ToString());
            Subscribe(source.Partitions, mode, initial: source.Initial && mode == SourceMode.Snapshot, pumps, stop, everything);
            return;
        }

        var change = next.Event;
        if (change.Kind == ChangeKind.SnapshotEnd)
        {
            var before = source.Mode == SourceMode.Delta && !source.Everything && source.Delta.Count > 1 ? (long[])_positions.Clone() : null;
            Advance(source, change.Cursor);
            source.SnapshotEnded = true;
            if (source.Mode == SourceMode.Delta)
            {
                AddCatchUp(source.Delta, before, output);
                source.Delta.Clear();
            }
            else if (source.Mode == SourceMode.Snapshot && --_pendingSnapshots == 0)
            {
                output.Add(change with { Cursor = ChangeCursor.Encode(_positions) });
                _snapshotsDone.TrySetResult();
            }
        }
        else if (change.Cursor is null)
        {
            // A snapshot item: the listener's snapshot passes through; a delta keeps what changed after the cursor.
            if (source.Mode != SourceMode.Delta)
            {
                output.Add(change);
            }
            else if (source.Everything || change.Version > _positions[PartitionOf(change)])
            {
                source.Delta.Add(change);
            }
        }
        else
        {
            Advance(source, change.Cursor);
            output.Add(change with { Cursor = ChangeCursor.Encode(_positions) });
        }
    }

    /// <summary>
    /// A catch-up's items, each with a cursor at its own version (in version order per partition),
    /// the last with the cursor after the catch-up: a listener whose stream breaks in the middle
    /// resumes right after the last item it got. No change after that version touches a key it
    /// already got (the catch-up holds each key's latest), so the rest comes once, from the log or
    /// a catch-up again. With <paramref name="before"/> null (one item, or every item of a new
    /// history whose sequences may sit below the cursor) every item carries the cursor after it.
    /// </summary>
    private void AddCatchUp(List<ChangeFeedEvent> items, long[]? before, List<ChangeFeedEvent> output)
    {
        var after = ChangeCursor.Encode(_positions);
        if (before is null)
        {
            foreach (var item in items)
            {
                output.Add(item with { Cursor = after, CatchUp = true });
            }

            return;
        }

        items.Sort((a, b) => (PartitionOf(a), a.Version).CompareTo((PartitionOf(b), b.Version)));
        var current = -1;
        for (var i = 0; i < items.Count; i++)
        {
            var p = PartitionOf(items[i]);
            if (p != current && current >= 0)
            {
                before[current] = _positions[current]; // the partition before is complete
            }

            current = p;
            before[p] = items[i].Version;
            output.Add(items[i] with { Cursor = i == items.Count - 1 ? after : ChangeCursor.Encode(before), CatchUp = true });
        }
    }

    // A source's cursor is authoritative for its own partitions only.
    private void Advance(Source source, string? cursor)
    {
        if (cursor is null)
        {
            return;
        }

        var positions = ChangeCursor.Decode(cursor, _positions.Length);
        foreach (var p in source.Partitions)
        {
            _positions[p] = positions[p];
        }
    }

    private int PartitionOf(in ChangeFeedEvent change) =>
        PartitionHasher.GetPartition(change.Address.Component, change.Address.PartitionKey.Length == 0 ? change.Address.Id : change.Address.PartitionKey, _positions.Length);

    [LoggerMessage(EventId = LogEvents.WatchResubscribed, Level = LogLevel.Information, Message = "Watch of '{Component}': partitions [{Partitions}] (delivered up to sequences [{Positions}]) from {Target} ended ({Reason}); following them where the partition map says now ({Mode}).")]
    private partial void LogResubscribing(string component, string partitions, string positions, string target, string reason, string mode);
}
