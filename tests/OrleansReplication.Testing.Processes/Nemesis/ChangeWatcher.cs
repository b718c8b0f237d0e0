using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Client;

namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>
/// A change-feed subscriber beside the writers: the .NET client's <c>WatchAsync</c> from a snapshot
/// taken before the first write, resuming from its cursor on its own when a stream breaks. At the
/// end, every acknowledged write must have been delivered (matched by its unique value) at its
/// acknowledged version, each key's changes in rising version order with none delivered twice. A
/// write is excused only where the feed said it folded it: a catch-up delivery of its key (its
/// partition's history restarted after the cursor) at a later version, with the key's delivery
/// before that catch-up older than the write.
/// </summary>
internal sealed class ChangeWatcher : IAsyncDisposable
{
    private readonly ReplicationClient _client;
    private readonly string _component;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _snapshotEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();

    // Under _lock: every delivered set, in delivery order per key; and where each value was delivered.
    private readonly Dictionary<string, List<(long Version, string? Value, bool CatchUp, long Position)>> _byKey = [];
    private readonly Dictionary<string, List<(string Key, long Version)>> _byValue = [];
    private readonly Task _reading;
    private Exception? _ended;

    private ChangeWatcher(ReplicationClient client, string component)
    {
        _client = client;
        _component = component;
        _reading = Task.Run(() => ReadAsync(component));
    }

    /// <summary>Subscribes (from a snapshot) and returns once the snapshot ended: every later write is delivered live.</summary>
    public static async Task<ChangeWatcher> StartAsync(IEnumerable<SiloProcess> silos, string component, TimeSpan requestTimeout, TimeSpan deadline)
    {
        var watcher = new ChangeWatcher((await ProcessCluster.ConnectClientsAsync(silos, 1, requestTimeout))[0], component);
        try
        {
            await watcher._snapshotEnded.Task.WaitAsync(deadline);
            return watcher;
        }
        catch
        {
            await watcher.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits (up to <paramref name="deadline"/>) until every acknowledged write of
    /// <paramref name="history"/> was delivered; then null when the feed was right, else what it
    /// got wrong, with examples.
    /// </summary>
    public async Task<string?> CheckAsync(IReadOnlyList<HistoryOperation> history, TimeSpan deadline)
    {
        var acknowledged = history.Where(o => o.Kind == OperationKind.Write && o.Outcome == OperationOutcome.Ok && o.Value is not null).ToList();
        try
        {
            await Wait.UntilAsync(() => Volatile.Read(ref _ended) is not null || acknowledged.All(Delivered), deadline, "the change feed to deliver every acknowledged write");
        }
        catch (TimeoutException)
        {
            // What is missing is reported below.
        }

        var problems = new List<string>();
        lock (_lock)
        {
            var missing = acknowledged.Where(o => !_byValue.ContainsKey(o.Value!) && !FoldedIntoCatchUp(o)).ToList();
            if (missing.Count > 0)
            {
                problems.Add($"{missing.Count} of {acknowledged.Count} acknowledged writes not delivered within {deadline.TotalSeconds:0} s after the run, e.g. {string.Join("; ", missing.Take(5).Select(o => $"{o.Key}={o.Value}@{o.Version} (the key's deliveries around it: {DeliveriesAround(o.Key, o.Version)})"))}");
            }

            var moved = acknowledged.Where(o => _byValue.TryGetValue(o.Value!, out var at) && at.Any(d => d.Key != o.Key || d.Version != o.Version)).ToList();
            if (moved.Count > 0)
            {
                problems.Add($"{moved.Count} acknowledged writes delivered at another key or version, e.g. {string.Join("; ", moved.Take(5).Select(o => $"{o.Key}={o.Value}@{o.Version} delivered at {string.Join(", ", _byValue[o.Value!].Select(d => $"{d.Key}@{d.Version}"))}"))}");
            }

            var twice = _byValue.Where(v => v.Value.Count > 1).ToList();
            if (twice.Count > 0)
            {
                problems.Add($"{twice.Count} values delivered more than once, e.g. {string.Join("; ", twice.Take(5).Select(v => $"{v.Key} at {string.Join(", ", v.Value.Select(d => $"{d.Key}@{d.Version}"))}"))}");
            }

            var disordered = _byKey.Where(k => k.Value.Zip(k.Value.Skip(1)).Any(p => p.Second.Version <= p.First.Version)).Select(k => k.Key).ToList();
            if (disordered.Count > 0)
            {
                problems.Add($"{disordered.Count} keys delivered out of version order (a duplicate or a step back), e.g. {string.Join("; ", disordered.Take(5).Select(k => $"{k}: {Deliveries(k)}"))}");
            }
        }

        if (Volatile.Read(ref _ended) is { } ended)
        {
            problems.Add($"the watch ended with {ended.GetType().Name}: {ended.Message}");
        }

        return problems.Count == 0 ? null : "Change feed: " + string.Join(". ", problems) + ".";
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        await _client.DisposeAsync();
        _stop.Dispose();
    }

    private async Task ReadAsync(string component)
    {
        try
        {
            await foreach (var change in _client.GetReplicator<string>(component).WatchAsync(cancellationToken: _stop.Token))
            {
                if (change.Kind == StateChangeKind.SnapshotEnd)
                {
                    _snapshotEnded.TrySetResult();
                    continue;
                }

                lock (_lock)
                {
                    Add(_byKey, change.Key.Id, (change.Version, change.Value, change.CatchUp, PositionOf(change.Key.Id, change.Cursor)));
                    if (change.Value is { } value)
                    {
                        Add(_byValue, value, (change.Key.Id, change.Version));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not resumable (or broken longer than the client's request timeout): the subscriber lost its feed.
            Volatile.Write(ref _ended, ex);
            _snapshotEnded.TrySetException(ex);
        }
    }

    private bool Delivered(HistoryOperation write)
    {
        lock (_lock)
        {
            return _byValue.ContainsKey(write.Value!) || FoldedIntoCatchUp(write);
        }
    }

    // Under _lock: the key's catch-up delivery that stands for this write (see the class summary).
    private bool FoldedIntoCatchUp(HistoryOperation write)
    {
        if (!_byKey.TryGetValue(write.Key, out var delivered))
        {
            return false;
        }

        for (var i = 0; i < delivered.Count; i++)
        {
            if (delivered[i].CatchUp && delivered[i].Version > write.Version && (i == 0 || delivered[i - 1].Version < write.Version))
            {
                return true;
            }
        }

        return false;
    }

    // Under _lock: the key's last deliveries, for a report.
    private string Deliveries(string key) =>
        _byKey.TryGetValue(key, out var delivered) ? Describe(delivered.TakeLast(8)) : "none";

    // Under _lock: the key's deliveries on either side of a version, for a report of a missing write.
    private string DeliveriesAround(string key, long version)
    {
        if (!_byKey.TryGetValue(key, out var delivered))
        {
            return "none";
        }

        var after = delivered.FindIndex(d => d.Version > version);
        var from = Math.Max(0, (after < 0 ? delivered.Count : after) - 4);
        return Describe(delivered.Skip(from).Take(8));
    }

    private static string Describe(IEnumerable<(long Version, string? Value, bool CatchUp, long Position)> deliveries) =>
        string.Join(", ", deliveries.Select(d => $"{d.Value ?? "(removed)"}@{d.Version}{(d.CatchUp ? " (catch-up)" : string.Empty)} [cursor at {d.Position}]"));

    // The delivery's cursor position in its key's partition (the cursor is base64url of LEB128
    // varints: the partition count, then each partition's sequence); -1 without one.
    private long PositionOf(string key, string? cursor)
    {
        if (cursor is null)
        {
            return -1;
        }

        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(cursor);
        var offset = 0;
        var count = (int)ReadVarint(bytes, ref offset);
        var partition = PartitionHasher.GetPartition(_component, key, count);
        long position = 0;
        for (var p = 0; p <= partition; p++)
        {
            position = (long)ReadVarint(bytes, ref offset);
        }

        return position;
    }

    private static ulong ReadVarint(byte[] bytes, ref int offset)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = bytes[offset++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    private static void Add<T>(Dictionary<string, List<T>> into, string key, T item)
    {
        if (!into.TryGetValue(key, out var list))
        {
            list = [];
            into[key] = list;
        }

        list.Add(item);
    }
}
