using System.Diagnostics;
using OrleansReplication.Bench.Measurement.History;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W2's client side, the same for our cluster and its Redis peer: each worker writes a unique
/// value to a random key and, until that write is acknowledged, retries the same key (with a new
/// value), every invoke and outcome recorded. After 5 s the system's primary is killed; writing
/// goes on for at least 10 s and until every worker was acknowledged since the kill (45 s at most).
/// </summary>
internal static class W2WriteLoop
{
    private static readonly TimeSpan BeforeKill = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxAfterKill = TimeSpan.FromSeconds(45);

    /// <summary>One write by a worker: acknowledged (with the version, 0 where the system has none), refused (not applied) or of unknown outcome.</summary>
    public delegate Task<WriteOutcome> Write(int worker, string key, string value);

    public readonly record struct WriteOutcome(OperationOutcome Outcome, long Version = 0);

    /// <summary>
    /// Runs <paramref name="settings"/>' concurrency of workers; <paramref name="afterFailure"/> runs
    /// in a worker before it retries, <paramref name="kill"/> kills the primary and returns the
    /// <see cref="Stopwatch"/> timestamp it did so. Returns <c>unavail_ms</c>: the longest time one
    /// worker waited after the kill for its next acknowledgement.
    /// </summary>
    public static async Task<double> RunAsync(BenchSettings settings, HistoryRecorder history, Write write, Func<int, Task>? afterFailure, Func<Task<long>> kill)
    {
        var keys = W1ReplicatedWrites.Keys(settings.Keys);
        var padding = new string('x', 232);
        using var stop = new CancellationTokenSource();
        var acks = Enumerable.Range(0, settings.Concurrency).Select(_ => new List<long>()).ToArray();
        var workers = Enumerable.Range(0, settings.Concurrency).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 31 + 7);
            var n = 0;
            var key = keys[random.Next(keys.Length)];
            while (!stop.IsCancellationRequested)
            {
                var value = $"w{w}-{n++}-{padding}";
                var id = history.Invoke(w, key, OperationKind.Write, value);
                var outcome = await write(w, key, value);
                if (outcome.Outcome == OperationOutcome.Ok)
                {
                    history.Ok(id, outcome.Version);
                    lock (acks[w])
                    {
                        acks[w].Add(Stopwatch.GetTimestamp());
                    }

                    key = keys[random.Next(keys.Length)];
                    continue;
                }

                if (outcome.Outcome == OperationOutcome.Fail)
                {
                    history.Fail(id);
                }
                else
                {
                    history.Timeout(id);
                }

                if (afterFailure is not null)
                {
                    await afterFailure(w);
                }
            }
        })).ToArray();

        await Task.Delay(BeforeKill);
        var killedAt = await kill();

        // Keep writing at least AfterKill, and until every worker has been acknowledged since the kill.
        var afterKill = Stopwatch.StartNew();
        while (afterKill.Elapsed < MaxAfterKill && (afterKill.Elapsed < AfterKill || acks.Any(a => { lock (a) { return a.Count == 0 || a[^1] < killedAt; } })))
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        var gaps = acks.Select(a => LongestGap(a, killedAt)).ToArray();
        var slowest = gaps.MaxBy(g => g.Ms);
        Console.Error.WriteLine($"  longest wait after the kill: {slowest.Ms:0} ms, from {slowest.StartMs:0} ms after it; per worker: {string.Join(" ", gaps.Select(g => $"{g.Ms:0}@{g.StartMs:0}"))}");
        return slowest.Ms;
    }

    /// <summary>The longest time after <paramref name="killedAt"/> one worker waited for its next acknowledgement, and when (after the kill) that wait began.</summary>
    private static (double Ms, double StartMs) LongestGap(List<long> ackTimes, long killedAt)
    {
        lock (ackTimes)
        {
            var previous = killedAt;
            long longest = 0;
            var start = killedAt;
            foreach (var t in ackTimes.Where(t => t > killedAt))
            {
                if (t - previous > longest)
                {
                    longest = t - previous;
                    start = previous;
                }

                previous = t;
            }

            if (ackTimes.Count == 0 || ackTimes[^1] <= killedAt)
            {
                longest = Stopwatch.GetTimestamp() - killedAt;
                start = killedAt;
            }

            return (longest * 1000.0 / Stopwatch.Frequency, (start - killedAt) * 1000.0 / Stopwatch.Frequency);
        }
    }
}
