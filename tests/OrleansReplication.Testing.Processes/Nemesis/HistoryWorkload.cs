using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Client;
namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>
/// Jepsen's client side on real processes: writers that record every invoke and its outcome (ok,
/// or unknown when it may have been applied), a read of every key at the end, and the check that
/// nothing acknowledged was lost, nothing applied twice and every key is linearizable. With
/// <paramref name="watchChanges"/>, a change-feed subscriber too (<see cref="ChangeWatcher"/>):
/// every acknowledged write must reach it, once, in each key's version order. Writers are .NET
/// clients or plain HTTP, at any safety level (<see cref="HistoryWriter"/>).
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
    private HistoryWriter[] _kinds = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _unexpectedAnswers = new();
    private ChangeWatcher? _watcher;
    private string? _feedViolation;

    /// <summary>Every operation recorded so far.</summary>
    public HistoryRecorder History { get; } = new();

    /// <summary>Writes acknowledged so far, per writer.</summary>
    public long Acknowledged(int writer) => Volatile.Read(ref _acknowledged[writer]);

    /// <summary>Writes acknowledged so far, per class of writer (<see cref="HistoryWriter.Class"/>).</summary>
    public IReadOnlyDictionary<string, long> AcknowledgedByClass() =>
        _kinds.Select((kind, writer) => (kind.Class, Acknowledged: Acknowledged(writer))).GroupBy(w => w.Class).ToDictionary(g => g.Key, g => g.Sum(w => w.Acknowledged));

    /// <summary>Writes acknowledged so far, by all writers.</summary>
    public long Acknowledged() => _acknowledged.Sum(a => Volatile.Read(ref a));

    /// <summary>Connects one client per writer to every silo's gateway and starts writing unique values at <c>Applied</c>.</summary>
    public Task StartAsync(IEnumerable<SiloProcess> silos, int writers) => StartAsync(silos, HistoryWriter.Clients(writers));

    /// <summary>
    /// Starts <paramref name="writers"/>: each .NET one with a client of its own connected to every
    /// silo's gateway, each HTTP one resending to the next silo's HTTP port when one does not answer.
    /// </summary>
    public async Task StartAsync(IEnumerable<SiloProcess> silos, IReadOnlyList<HistoryWriter> writers)
    {
        var all = silos.ToList();
        _kinds = [.. writers];
        _acknowledged = new long[writers.Count];
        if (watchChanges)
        {
            // Subscribed before the first write: every acknowledged write must be delivered live.
            _watcher = await ChangeWatcher.StartAsync(all, component, RequestTimeout, Deadline);
        }

        var clients = await ProcessCluster.ConnectClientsAsync(all, writers.Count(w => !w.Http), RequestTimeout);
        _clients.AddRange(clients);
        var httpPorts = all.OrderBy(s => s.Instance).Select(s => new Uri($"http://{s.Address}:{s.HttpPort}/")).ToList();
        for (int w = 0, c = 0; w < writers.Count; w++)
        {
            var (kind, writer) = (writers[w], w);
            if (kind.Http)
            {
                var http = new HttpItemWriter(httpPorts, component, kind.Safety, firstSilo: writer);
                _writers.Add(Task.Run(() => WriteOverHttpAsync(http, writer)));
            }
            else
            {
                var client = clients[c++];
                _writers.Add(Task.Run(() => WriteAsync(client, writer, kind.Safety)));
            }
        }
    }

    /// <summary>Waits until every writer had <paramref name="more"/> writes acknowledged beyond what it has now.</summary>
    public Task WaitForProgressAsync(int more, string after)
    {
        var targets = _acknowledged.Select(a => a + more).ToArray();
        return Wait.UntilAsync(() => targets.Select((t, w) => Acknowledged(w) >= t).All(ok => ok), Deadline, $"every writer to have {more} more writes acknowledged {after}");
    }

    /// <summary>
    /// The longest time any .NET writer at <c>Applied</c> went without an acknowledgement between
    /// <paramref name="from"/> and <paramref name="to"/> (<see cref="System.Diagnostics.Stopwatch"/>
    /// timestamps): the unavailability a fault caused, as a client saw it.
    /// </summary>
    public TimeSpan LongestStall(long from, long to) => LongestStall(from, to, HistoryWriter.ClientApplied.Class);

    /// <summary>The longest stall, as <see cref="LongestStall(long, long)"/>, of each class of writer (<see cref="HistoryWriter.Class"/>).</summary>
    public IReadOnlyDictionary<string, TimeSpan> StallsByClass(long from, long to) =>
        _kinds.Select(k => k.Class).Distinct().ToDictionary(c => c, c => LongestStall(from, to, c));

    private TimeSpan LongestStall(long from, long to, string writerClass)
    {
        var longest = 0L;
        var byWriter = History.Snapshot()
            .Where(o => o.Process < _acknowledged.Length && o.Outcome == OperationOutcome.Ok && o.Completed >= from && o.Completed <= to)
            .ToLookup(o => o.Process, o => o.Completed);
        for (var writer = 0; writer < _acknowledged.Length; writer++)
        {
            if (_kinds[writer].Class != writerClass)
            {
                continue;
            }

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
        var problems = new[]
        {
            HistoryViolation(report),
            _feedViolation,
            _unexpectedAnswers.IsEmpty ? null : $"{_unexpectedAnswers.Count} HTTP writes answered what no correct silo answers, e.g. {string.Join("; ", _unexpectedAnswers.Take(3))}",
        };
        return problems.Any(p => p is not null) ? string.Join(Environment.NewLine, problems.Where(p => p is not null)) : null;
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

    private Task WriteAsync(ReplicationClient client, int writer, SafetyLevel safety)
    {
        var replicator = client.GetReplicator<string>(component);
        var options = new WriteOptions { Safety = safety };
        return WriteLoopAsync(writer, async (key, value, _) =>
        {
            try
            {
                return (await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], options))[0].Version;
            }
            catch (ReplicationException)
            {
                // Lost connection, timeout, partition moving, a Durable write the store did not
                // confirm in time: the client gave up retrying it.
                return null;
            }
        });
    }

    private async Task WriteOverHttpAsync(HttpItemWriter http, int writer)
    {
        using var _ = http;
        await WriteLoopAsync(writer, async (key, value, n) =>
        {
            try
            {
                // Resent with the same Idempotency-Key until answered: applied once at most.
                return await http.PutAsync(key, value, $"nemesis-{writer}-{n}-{_started}", _stop.Token);
            }
            catch (UnexpectedHttpAnswerException ex)
            {
                _unexpectedAnswers.Enqueue(ex.Message);
                await Task.Delay(100); // a silo answering wrongly is reported, not hammered
                return null;
            }
        });
    }

    // Writes unique values (w{writer}-{n}) to random keys until stopped: each acknowledged at the
    // version <paramref name="write"/> returns, or of unknown outcome (null: it may have been
    // applied), in which case the same key is written next.
    private async Task WriteLoopAsync(int writer, Func<string, string, int, Task<long?>> write)
    {
        var random = new Random(writer);
        var key = $"k{random.Next(keys)}";
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var value = $"w{writer}-{n}";
            var id = History.Invoke(writer, key, OperationKind.Write, value);
            if (await write(key, value, n) is { } version)
            {
                Acknowledge(id, writer, version);
                key = $"k{random.Next(keys)}";
            }
            else
            {
                History.Timeout(id);
            }
        }
    }

    private void Acknowledge(long id, int writer, long version)
    {
        History.Ok(id, version);
        Interlocked.Increment(ref _acknowledged[writer]);
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
