using System.Diagnostics;
using OrleansReplication.Bench.Measurement;

namespace OrleansReplication.Bench.Workloads;

/// <summary>What one closed-loop measurement saw.</summary>
internal sealed record LoopResult(long Operations, long Failed, double Seconds, LatencyHistogram Latency)
{
    public double OpsPerSecond => Seconds > 0 ? Operations / Seconds : 0;
}

/// <summary>
/// N workers, each in a closed loop (send, wait for the answer, send the next) on random keys.
/// Operations finishing before the warm-up ends are not measured; latencies are in microseconds.
/// </summary>
internal static class ClosedLoop
{
    /// <param name="concurrency">Workers (each one request in flight).</param>
    /// <param name="operation">One operation of worker <c>w</c> on a key index; throws when it failed.</param>
    public static async Task<LoopResult> RunAsync(int concurrency, int keys, TimeSpan warmup, TimeSpan measured, Func<int, int, Task> operation, CancellationToken stop = default)
    {
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var measureTo = measureFrom + (long)(measured.TotalSeconds * Stopwatch.Frequency);
        var histograms = new LatencyHistogram[concurrency];
        var counts = new long[concurrency];
        var failures = new long[concurrency];
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 7919);
            var histogram = histograms[w] = new LatencyHistogram();
            while (!stop.IsCancellationRequested)
            {
                var begin = Stopwatch.GetTimestamp();
                if (begin >= measureTo)
                {
                    return;
                }

                var ok = true;
                try
                {
                    await operation(w, random.Next(keys));
                }
                catch (Exception)
                {
                    ok = false;
                }

                var end = Stopwatch.GetTimestamp();
                if (begin >= measureFrom && end <= measureTo && !stop.IsCancellationRequested)
                {
                    if (ok)
                    {
                        histogram.Record((end - begin) * 1_000_000 / Stopwatch.Frequency);
                        counts[w]++;
                    }
                    else
                    {
                        failures[w]++;
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var total = new LatencyHistogram();
        foreach (var h in histograms)
        {
            total.Add(h);
        }

        return new LoopResult(counts.Sum(), failures.Sum(), measured.TotalSeconds, total);
    }
}
