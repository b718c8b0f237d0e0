using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Redis;
using OrleansReplication.Bench.Reporting;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W1: 16 closed-loop clients write 256 random bytes to random keys of 100,000 in one component,
/// at each safety level; with <c>--peer redis</c>, Redis SET and SET + WAIT 1 0 from as many
/// connections, interleaved run by run, and the ratios ours / Redis.
/// </summary>
internal static class W1ReplicatedWrites
{
    public const string Component = "w1";

    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        var levels = settings.Safety ?? (settings.Command == "all" ? [SafetyLevel.Local, SafetyLevel.Applied, SafetyLevel.Durable] : [SafetyLevel.Local, SafetyLevel.Applied]);
        var keys = Keys(settings.Keys);
        var ours = levels.ToDictionary(l => l, _ => new List<RunFigures>());
        var ceiling = new List<RunFigures>();
        // set-wait1-aof: the same pair with the append-only file (fsync every second), for
        // reference: the silos persist every write to their store, Redis by default nothing.
        var redis = new Dictionary<string, List<RunFigures>> { ["set"] = [], ["set-wait1"] = [], ["set-wait1-aof"] = [] };

        await using var cluster = await SiloCluster.StartAsync(settings, silos: settings.W1Silos);
        await using var clients = await ClientPool.ConnectAsync(cluster, settings);
        RedisCluster? peer = null;
        try
        {
            if (settings.Peer == "redis")
            {
                peer = await RedisCluster.StartAsync(sentinels: 0);
            }

            for (var run = 0; run < settings.Runs; run++)
            {
                if (settings.Ceiling)
                {
                    ceiling.Add(Record(results, "orleans-call", "echo", run, await clients.EchoLoopAsync(settings, settings.Warmup, settings.Duration)));
                }

                foreach (var level in levels)
                {
                    var result = await clients.WriteLoopAsync(settings, Component, level, settings.Warmup, settings.Duration);
                    ours[level].Add(Record(results, "orleans-replication", level.ToString().ToLowerInvariant(), run, result));
                }

                if (peer is not null)
                {
                    foreach (var mode in redis.Keys)
                    {
                        if (mode == "set-wait1-aof")
                        {
                            await peer.SetAppendOnlyAsync(on: true);
                        }

                        var result = await MeasureRedisAsync(settings, peer.PrimaryPort, keys, wait: mode.StartsWith("set-wait1", StringComparison.Ordinal));
                        redis[mode].Add(Record(results, "redis", mode, run, result));
                    }

                    await peer.SetAppendOnlyAsync(on: false);
                }
            }
        }
        finally
        {
            if (peer is not null)
            {
                await peer.DisposeAsync();
            }
        }

        if (ceiling.Count > 0)
        {
            results.Summarize(ceiling[0] with { Kind = "median", Figures = Results.Median(ceiling) });
        }

        foreach (var (level, runs) in ours)
        {
            results.Summarize(runs[0] with { Kind = "median", Figures = Results.Median(runs) });
            if (ceiling.Count > 0)
            {
                CompareWithCall(results, runs, ceiling, level);
            }
        }

        if (peer is null)
        {
            return;
        }

        foreach (var (mode, runs) in redis)
        {
            results.Summarize(runs[0] with { Kind = "median", Figures = Results.Median(runs) });
        }

        // The targets: applied vs SET + WAIT 1 (sync), local vs plain SET (async).
        Compare(results, ours, redis, SafetyLevel.Applied, "set-wait1");
        Compare(results, ours, redis, SafetyLevel.Local, "set");
        Compare(results, ours, redis, SafetyLevel.Applied, "set-wait1-aof");
    }

    public static string[] Keys(int count) => [.. Enumerable.Range(0, count).Select(i => $"item:{i}")];

    public static async Task<LoopResult> MeasureRedisAsync(BenchSettings settings, int port, string[] keys, bool wait)
    {
        var connections = new RespConnection[settings.Concurrency];
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i] = await RespConnection.ConnectAsync(port, TimeSpan.FromSeconds(10));
        }

        var values = Values(settings.Concurrency);
        try
        {
            return await ClosedLoop.RunAsync(settings.Concurrency, keys.Length, settings.Warmup, settings.Duration, async (w, k) =>
            {
                var connection = connections[w];
                connection.Queue("SET", keys[k], values[w]);
                if (wait)
                {
                    // Pipelined with the SET: one round trip, acknowledged once the replica has it.
                    connection.Queue("WAIT", "1", "0");
                }

                await connection.FlushAsync();
                await connection.ReadAsync();
                if (wait && await connection.ReadAsync() is not (long and >= 1))
                {
                    throw new InvalidOperationException("WAIT 1 returned without the replica's acknowledgement.");
                }
            });
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    public static byte[][] Values(int workers) => [.. Enumerable.Range(0, workers).Select(w =>
    {
        var value = new byte[256];
        new Random(w + 1).NextBytes(value);
        return value;
    })];

    public static Dictionary<string, double> Figures(LoopResult result) => new()
    {
        ["ops_per_s"] = result.OpsPerSecond,
        ["p50_us"] = result.Latency.ValueAtPercentile(50),
        ["p99_us"] = result.Latency.ValueAtPercentile(99),
        ["p999_us"] = result.Latency.ValueAtPercentile(99.9),
    };

    private static RunFigures Record(Results results, string system, string safety, int run, LoopResult result)
    {
        var figures = Figures(result);
        figures["failed"] = result.Failed;
        var measurement = new RunFigures(system, "w1", safety, $"run {run + 1}", figures);
        results.AddRun(measurement);
        Console.Error.WriteLine("  run " + (run + 1) + ": " + measurement.Line);
        return measurement;
    }

    // What the replication costs over the engine: each level's throughput as a fraction of the bare call's.
    private static void CompareWithCall(Results results, List<RunFigures> mine, List<RunFigures> ceiling, SafetyLevel level) =>
        SummarizeRatio(results, "orleans-replication/orleans-call", level.ToString().ToLowerInvariant() + "/echo", "ratio_to_orleans_call", mine, ceiling);

    private static void Compare(Results results, Dictionary<SafetyLevel, List<RunFigures>> ours, Dictionary<string, List<RunFigures>> redis, SafetyLevel level, string mode)
    {
        if (ours.TryGetValue(level, out var mine))
        {
            SummarizeRatio(results, "orleans-replication/redis", level.ToString().ToLowerInvariant() + "/" + mode, "ratio", mine, redis[mode]);
        }
    }

    // One "ours / theirs" line: the medians' throughput ratio (under ratioName) and p99 ratio.
    private static void SummarizeRatio(Results results, string systems, string safety, string ratioName, List<RunFigures> mine, List<RunFigures> theirs)
    {
        var a = Results.Median(mine);
        var b = Results.Median(theirs);
        results.Summarize(new RunFigures(systems, "w1", safety, "ratio", new Dictionary<string, double>
        {
            [ratioName] = Math.Round(a["ops_per_s"] / Math.Max(1, b["ops_per_s"]), 3),
            ["p99_ratio"] = Math.Round(a["p99_us"] / Math.Max(1, b["p99_us"]), 3),
        }));
    }
}
