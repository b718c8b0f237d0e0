using System.Diagnostics;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Bench.Reporting;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W2: W1 at Applied on three silos with every invoke / ok / timeout recorded; after 5 s the silo
/// leading the most partitions gets SIGKILL. A client whose write fails retries the same key
/// (with a new unique value) until it succeeds, so its longest gap between acknowledgements after
/// the kill is how long that key's partition was unavailable: <c>unavail_ms</c> is the longest
/// such window over all clients. Afterwards every touched key is read back and the history
/// checked: lost acknowledged writes, effects applied twice, linearizability per key.
/// </summary>
internal static class W2Failover
{
    private const string Component = "w2";
    private static readonly TimeSpan BeforeKill = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxAfterKill = TimeSpan.FromSeconds(45);

    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 3);
        await using var clients = await ClientPool.ConnectAsync(cluster, settings.Concurrency, TimeSpan.FromSeconds(10));
        var replicators = clients.Clients.Select(c => c.GetReplicator<string>(Component)).ToArray();
        var history = new HistoryRecorder();
        var keys = W1ReplicatedWrites.Keys(settings.Keys);
        var padding = new string('x', 232);
        using var stop = new CancellationTokenSource();
        long killedAt = 0;
        var acks = Enumerable.Range(0, settings.Concurrency).Select(_ => new List<long>()).ToArray();
        // OR_BENCH_W2_TIMELINE=FILE (with --silo-env Logging__LogLevel__Default=Information): where the window goes.
        var timeline = Environment.GetEnvironmentVariable("OR_BENCH_W2_TIMELINE");
        var resumed = Enumerable.Range(0, settings.Concurrency).Select(_ => new List<(long At, string Key)>()).ToArray();
        var workers = Enumerable.Range(0, settings.Concurrency).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 31 + 7);
            var options = new WriteOptions { Safety = SafetyLevel.Applied };
            var n = 0;
            var key = keys[random.Next(keys.Length)];
            while (!stop.IsCancellationRequested)
            {
                var value = $"w{w}-{n++}-{padding}";
                var id = history.Invoke(w, key, OperationKind.Write, value);
                try
                {
                    var result = await replicators[w].SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], options);
                    history.Ok(id, result[0].Version);
                    RecordAck(w, key);
                    lock (acks[w])
                    {
                        acks[w].Add(Stopwatch.GetTimestamp());
                    }

                    key = keys[random.Next(keys.Length)];
                }
                catch (InvalidRequestException)
                {
                    history.Fail(id);
                }
                catch (Exception)
                {
                    // Unknown outcome: it may have been applied. Retry the same key.
                    history.Timeout(id);
                }
            }

            void RecordAck(int worker, string key)
            {
                var kill = Volatile.Read(ref killedAt);
                if (timeline is not null && kill != 0 && Stopwatch.GetElapsedTime(kill) < AfterKill)
                {
                    resumed[worker].Add((Stopwatch.GetTimestamp(), key));
                }
            }
        })).ToArray();

        await Task.Delay(BeforeKill);
        var victim = await cluster.BusiestPrimaryAsync();
        var killedWall = DateTime.Now;
        var pausedBefore = GC.GetTotalPauseDuration();
        Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
        await victim.KillAsync();
        Console.Error.WriteLine($"  killed silo {victim.SiloId} (pid {victim.ProcessId}), the primary of the most partitions");

        // Keep writing at least AfterKill, and until every client has been acknowledged since the kill.
        var afterKill = Stopwatch.StartNew();
        while (afterKill.Elapsed < MaxAfterKill && (afterKill.Elapsed < AfterKill || acks.Any(a => { lock (a) { return a.Count == 0 || a[^1] < killedAt; } })))
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var unavailableMs = acks.Max(a => LongestGapMs(a, killedAt));
        if (timeline is not null)
        {
            File.AppendAllLines(timeline, [$"kill {killedWall:HH:mm:ss.fff} victim {victim.SiloId}; this process paused for GC {(GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds:0} ms since"]);
            WriteTimeline(timeline, cluster, killedWall, killedAt, resumed);
        }
        await ReadBackAsync(replicators, history);
        var report = HistoryChecker.Check(history.Snapshot());
        Console.Error.WriteLine($"  history: {report}");
        var figures = new Dictionary<string, double>
        {
            ["unavail_ms"] = unavailableMs,
            ["lost_acked"] = report.LostWrites.Count,
            ["applied_twice"] = report.DuplicatedEffects.Count,
            ["non_linearizable_keys"] = report.NonLinearizableKeys.Count,
            ["operations"] = report.Operations,
            ["timeouts"] = history.Snapshot().Count(o => o.Outcome == OperationOutcome.Timeout),
        };
        var measurement = new RunFigures("orleans-replication", "w2", "applied", "run 1", figures);
        results.AddRun(measurement);
        results.Summarize(measurement with { Kind = "single" });
    }

    // Every wait of a client for its next acknowledgement over 50 ms (from-to ms after the kill,
    // and the partition of the key it waited on); then the silos' log lines from 1 s before the
    // kill to 10 s after it.
    private static void WriteTimeline(string path, SiloCluster cluster, DateTime killedWall, long killedAt, List<(long At, string Key)>[] acks)
    {
        var lines = new List<string>();
        var waits = new List<string>();
        foreach (var worker in acks)
        {
            var previous = 0.0;
            foreach (var (at, key) in worker)
            {
                var ms = Stopwatch.GetElapsedTime(killedAt, at).TotalMilliseconds;
                if (ms - previous > 50)
                {
                    waits.Add($"{previous:0}-{ms:0}:p{PartitionHasher.GetPartition(Component, key, cluster.Partitions)}");
                }

                previous = ms;
            }
        }

        lines.Add("waits over 50 ms: " + string.Join(' ', waits));
        var from = killedWall.AddSeconds(-1).ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
        var to = (killedWall + AfterKill).ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var silo in cluster.Silos)
        {
            lines.Add($"--- silo {silo.SiloId}");
            lines.AddRange(silo.Log.Split('\n').Where(l => l.Length > 12 && string.CompareOrdinal(l, 0, from, 0, 12) >= 0 && string.CompareOrdinal(l, 0, to, 0, 12) <= 0));
        }

        File.AppendAllLines(path, lines);
    }

    /// <summary>The longest time after <paramref name="killedAt"/> one client waited for its next acknowledgement.</summary>
    public static double LongestGapMs(List<long> ackTimes, long killedAt)
    {
        lock (ackTimes)
        {
            var previous = killedAt;
            long longest = 0;
            foreach (var t in ackTimes.Where(t => t > killedAt))
            {
                longest = Math.Max(longest, t - previous);
                previous = t;
            }

            if (ackTimes.Count == 0 || ackTimes[^1] <= killedAt)
            {
                longest = Stopwatch.GetTimestamp() - killedAt;
            }

            return longest * 1000.0 / Stopwatch.Frequency;
        }
    }

    // Reads every key the history touched, recording the reads: the checker compares them with the acknowledgements.
    private static async Task ReadBackAsync(IReadOnlyList<IStateReplicator<string>> replicators, HistoryRecorder history)
    {
        var touched = new Queue<string>(history.Snapshot().Select(o => o.Key).Distinct(StringComparer.Ordinal));
        var readers = replicators.Select((replicator, w) => Task.Run(async () =>
        {
            while (true)
            {
                string key;
                lock (touched)
                {
                    if (!touched.TryDequeue(out key!))
                    {
                        return;
                    }
                }

                for (var attempt = 0; ; attempt++)
                {
                    var id = history.Invoke(1000 + w, key, OperationKind.Read);
                    try
                    {
                        var items = await replicator.GetStateItemsAsync([new ItemKey(key)]);
                        history.Ok(id, items.Count == 0 ? 0 : items[0].Version, items.Count == 0 ? null : items[0].Value);
                        break;
                    }
                    catch (Exception) when (attempt < 600)
                    {
                        // Partitions may still be moving after the failover: a read is safe to repeat (for up to a minute).
                        history.Timeout(id);
                        await Task.Delay(100);
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(readers);
    }
}
