using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Client;
namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>
/// Jepsen's client side on real processes: writers that record every invoke and its outcome (ok,
/// or unknown when it may have been applied), a read of every key at the end, and the check that
/// nothing acknowledged was lost, nothing applied twice and every key is linearizable. With
/// <paramref name="watchChanges"/>, a change-feed subscriber too (<see cref="ChangeWatcher"/>):
/// every acknowledged write must reach it, once, in each key's version order.
/// </summary>
public sealed class HistoryWorkload(string component, int keys, bool watchChanges = false) : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private readonly List<ReplicationClient> _clients = [];
    private readonly List<Task> _writers = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
    private long[] _acknowledged = [];
    private ChangeWatcher? _watcher;
    private string? _feedViolation;

    /// <summary>Every operation recorded so far.</summary>
    public HistoryRecorder History { get; } = new();

    /// <summary>Writes acknowledged so far, per writer.</summary>
    public long Acknowledged(int writer) => Volatile.Read(ref _acknowledged[writer]);

    /// <summary>Writes acknowledged so far, by all writers.</summary>
    public long Acknowledged() => _acknowledged.Sum(a => Volatile.Read(ref a));

    /// <summary>Connects one client per writer to every silo's gateway and starts writing unique values at <c>Applied</c>.</summary>
    public async Task StartAsync(IEnumerable<SiloProcess> silos, int writers)
    {
        _acknowledged = new long[writers];
        if (watchChanges)
        {
            // Subscribed before the first write: every acknowledged write must be delivered live.
            _watcher = await ChangeWatcher.StartAsync(silos, component, RequestTimeout, Deadline);
        }

        _clients.AddRange(await ProcessCluster.ConnectClientsAsync(silos, writers, RequestTimeout));

        for (var w = 0; w < writers; w++)
        {
            var (client, writer) = (_clients[w], w);
            _writers.Add(Task.Run(() => WriteAsync(client, writer)));
        }
    }

    /// <summary>Waits until every writer had <paramref name="more"/> writes acknowledged beyond what it has now.</summary>
    public Task WaitForProgressAsync(int more, string after)
    {
        var targets = _acknowledged.Select(a => a + more).ToArray();
        return Wait.UntilAsync(() => targets.Select((t, w) => Acknowledged(w) >= t).All(ok => ok), Deadline, $"every writer to have {more} more writes acknowledged {after}");
    }

    /// <summary>
    /// The longest time any writer went without an acknowledgement between <paramref name="from"/>
    /// and <paramref name="to"/> (<see cref="System.Diagnostics.Stopwatch"/> timestamps): the
    /// unavailability a fault caused, as a client saw it.
    /// </summary>
    public TimeSpan LongestStall(long from, long to)
    {
        var longest = 0L;
        var byWriter = History.Snapshot()
            .Where(o => o.Process < _acknowledged.Length && o.Outcome == OperationOutcome.Ok && o.Completed >= from && o.Completed <= to)
            .ToLookup(o => o.Process, o => o.Completed);
        for (var writer = 0; writer < _acknowledged.Length; writer++)
        {
            var last = from;
            foreach (var completed in byWriter[writer].Order())
            {
                longest = Math.Max(longest, completed - last);
                last = completed;
            }

            longest = Math.Max(longest, to - last);
        }

        return TimeSpan.FromSeconds((double)longest / System.Diagnostics.Stopwatch.Frequency);
    }

    /// <summary>Writes invoked between <paramref name="from"/> and <paramref name="to"/> whose outcome is unknown (timed out, connection lost).</summary>
    public int UnknownWrites(long from, long to) =>
        History.Snapshot().Count(o => o.Kind == OperationKind.Write && o.Outcome == OperationOutcome.Timeout && o.Invoked >= from && o.Invoked <= to);

    /// <summary>Stops the writers, reads every key written through <paramref name="reader"/> and checks the history.</summary>
    public async Task<HistoryReport> StopAndCheckAsync(SiloProcess reader)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers);
        await using (var client = (await ProcessCluster.ConnectClientsAsync([reader], 1, RequestTimeout))[0])
        {
            var replicator = client.GetReplicator<string>(component);
            foreach (var key in History.Snapshot().Select(o => o.Key).Distinct())
            {
                // Partitions may still be moving (rebalancing after a fault): a read is safe to repeat.
                await Wait.UntilAsync(() => ReadAsync(replicator, key), Deadline, $"a read of {key} after the faults");
            }
        }

        if (_watcher is not null)
        {
            _feedViolation = await _watcher.CheckAsync(History.Snapshot(), Deadline);
        }

        return HistoryChecker.Check(History.Snapshot());
    }

    /// <summary>
    /// Null when <paramref name="report"/> is clean and the change feed (when watched) delivered
    /// every acknowledged write; otherwise what was violated, with the report and the shortest
    /// excerpt of the history that shows the first violation, then what the feed got wrong.
    /// </summary>
    public string? Violations(HistoryReport report)
    {
        var history = HistoryViolation(report);
        return history is null ? _feedViolation : _feedViolation is null ? history : history + Environment.NewLine + _feedViolation;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers);
        await ProcessCluster.DisposeAllAsync(_clients);
        if (_watcher is not null)
        {
            await _watcher.DisposeAsync();
        }

        _stop.Dispose();
    }

    private string? HistoryViolation(HistoryReport report)
    {
        var (what, key, from, to) = report switch
        {
            { LostWrites.Count: > 0 } => ($"Acknowledged writes lost: {string.Join("; ", report.LostWrites.Take(5).Select(l => $"{l.Write.Key}={l.Write.Value}@{l.Write.Version}, read {l.Read.Value}@{l.Read.Version}"))}",
                report.LostWrites[0].Write.Key, report.LostWrites[0].Write.Invoked, report.LostWrites[0].Read.Completed),
            { DuplicatedEffects.Count: > 0 } => ($"Writes applied twice: {string.Join("; ", report.DuplicatedEffects.Take(5).Select(d => $"{d.Key}={d.Value} at versions {string.Join(", ", d.Versions)}"))}",
                report.DuplicatedEffects[0].Key, long.MinValue, long.MaxValue),
            { NonLinearizableKeys.Count: > 0 } => ("Not linearizable", report.NonLinearizableKeys[0], long.MinValue, long.MaxValue),
            { UnknownKeys.Count: > 0 } => ("Keys the checker could not decide", report.UnknownKeys[0], long.MinValue, long.MaxValue),
            _ => (null, null, 0L, 0L),
        };
        if (what is null)
        {
            return null;
        }

        // The operations on the key that overlap the violation: for a lost write, the write, the
        // ten before and after it, and the read that missed it; else the key's last 20.
        var ops = History.Snapshot().Where(o => o.Key == key).ToList();
        var excerpt = report.LostWrites.Count > 0
            ? ops.Skip(Math.Max(0, ops.FindIndex(o => o.Id == report.LostWrites[0].Write.Id) - 10)).Take(21).Append(report.LostWrites[0].Read).Distinct()
            : ops.TakeLast(20);
        return $"{what}. {report}{Environment.NewLine}History of {key} (process, kind, value, version, outcome, invoked..completed ms):{Environment.NewLine}" +
            string.Join(Environment.NewLine, excerpt.Select(o =>
                $"  p{o.Process} {o.Kind} {o.Value ?? "(absent)"} v{o.Version} {o.Outcome} {Milliseconds(o.Invoked)}..{(o.Completed == long.MaxValue ? "?" : Milliseconds(o.Completed))}"));
    }

    private string Milliseconds(long timestamp) => System.Diagnostics.Stopwatch.GetElapsedTime(_started, timestamp).TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    private async Task WriteAsync(ReplicationClient client, int writer)
    {
        var replicator = client.GetReplicator<string>(component);
        var random = new Random(writer);
        var key = $"k{random.Next(keys)}";
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var value = $"w{writer}-{n}";
            var id = History.Invoke(writer, key, OperationKind.Write, value);
            try
            {
                var results = await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], new WriteOptions { Safety = SafetyLevel.Applied });
                History.Ok(id, results[0].Version);
                Interlocked.Increment(ref _acknowledged[writer]);
                key = $"k{random.Next(keys)}";
            }
            catch (ReplicationException)
            {
                // Unknown outcome (lost connection, timeout, partition moving): it may have been
                // applied, so the same key is written next (its value is unique either way).
                History.Timeout(id);
            }
        }
    }

    private async Task<bool> ReadAsync(IStateReplicator<string> replicator, string key)
    {
        var id = History.Invoke(100, key, OperationKind.Read);
        try
        {
            var items = await replicator.GetStateItemsAsync([new ItemKey(key)]);
            History.Ok(id, items.Count == 0 ? 0 : items[0].Version, items.Count == 0 ? null : items[0].Value);
            return true;
        }
        catch (ReplicationException)
        {
            History.Timeout(id);
            return false;
        }
    }
}
