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
/// checked: lost acknowledged writes, effects applied twice, linearizability per key. Runs
/// <c>--runs</c> times: the median window, and losses, doubles and violations summed over every run.
/// </summary>
internal static class W2Failover
{
    private const string Component = "w2";

    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        var runs = new List<RunFigures>();
        for (var run = 0; run < settings.Runs; run++)
        {
            var measurement = new RunFigures("orleans-replication", "w2", "applied", $"run {run + 1}", await RunOnceAsync(settings));
            results.AddRun(measurement);
            runs.Add(measurement);
            Console.Error.WriteLine("  run " + (run + 1) + ": " + measurement.Line);
        }

        // The window is the median run's; anything lost, doubled or not linearizable is counted over
        // every run, so one bad run shows in the summary.
        var summary = Results.Median(runs);
        foreach (var total in new[] { "lost_acked", "applied_twice", "non_linearizable_keys", "operations", "timeouts" })
        {
            summary[total] = runs.Sum(r => r.Figures[total]);
        }

        results.Summarize(runs[0] with { Kind = "median", Figures = summary });
    }

    private static async Task<Dictionary<string, double>> RunOnceAsync(BenchSettings settings)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 3);
        await using var clients = await ClientPool.ConnectAsync(cluster, settings, TimeSpan.FromSeconds(10));
        var replicators = Enumerable.Range(0, clients.Workers).Select(w => clients.For(w).GetReplicator<string>(Component)).ToArray();
        var history = new HistoryRecorder();
        var options = new WriteOptions { Safety = SafetyLevel.Applied };
        var unavailableMs = await W2WriteLoop.RunAsync(
            settings,
            history,
            async (w, key, value) =>
            {
                try
                {
                    var result = await replicators[w].SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], options);
                    return new(OperationOutcome.Ok, result[0].Version);
                }
                catch (InvalidRequestException)
                {
                    return new(OperationOutcome.Fail);
                }
                catch (Exception)
                {
                    // Unknown outcome: it may have been applied. The loop retries the same key.
                    return new(OperationOutcome.Timeout);
                }
            },
            afterFailure: null,
            async () =>
            {
                var victim = await cluster.BusiestPrimaryAsync();
                var killedAt = Stopwatch.GetTimestamp();
                await victim.KillAsync();
                Console.Error.WriteLine($"  killed silo {victim.SiloId} (pid {victim.ProcessId}), the primary of the most partitions");
                return killedAt;
            });
        await ReadBackAsync(replicators, history);
        var report = HistoryChecker.Check(history.Snapshot());
        Console.Error.WriteLine($"  history: {report}");
        return new Dictionary<string, double>
        {
            ["unavail_ms"] = unavailableMs,
            ["lost_acked"] = report.LostWrites.Count,
            ["applied_twice"] = report.DuplicatedEffects.Count,
            ["non_linearizable_keys"] = report.NonLinearizableKeys.Count,
            ["operations"] = report.Operations,
            ["timeouts"] = history.Snapshot().Count(o => o.Outcome == OperationOutcome.Timeout),
        };
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
