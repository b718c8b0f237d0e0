using System.Diagnostics;
using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Bench.Redis;
using OrleansReplication.Bench.Reporting;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W2's peer: Redis primary + two replicas (so a replica is left to WAIT for after the failover,
/// as our three silos keep RF=2) under three Sentinels (down-after-milliseconds 1000). The same
/// client logic: SET + WAIT 1 is acknowledged when WAIT counts a replica; a failed write retries
/// the same key after asking the Sentinels for the primary; SIGKILL of the primary after 5 s.
/// </summary>
internal static class W2RedisPeer
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(2);

    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        await using var redis = await RedisCluster.StartAsync(sentinels: 3, replicas: 2);
        var primary = redis.PrimaryPort;
        var history = new HistoryRecorder();
        var connections = new RespConnection?[settings.Concurrency];
        double unavailableMs;
        try
        {
            unavailableMs = await W2WriteLoop.RunAsync(
                settings,
                history,
                async (w, key, value) =>
                {
                    try
                    {
                        var connection = connections[w] ??= await RespConnection.ConnectAsync(Volatile.Read(ref primary), OperationTimeout);
                        connection.Queue("SET", key, value);
                        connection.Queue("WAIT", "1", ((int)OperationTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
                        await connection.FlushAsync().WaitAsync(OperationTimeout);
                        await connection.ReadAsync().WaitAsync(OperationTimeout);
                        return new(await connection.ReadAsync().WaitAsync(OperationTimeout * 2) is long and >= 1 ? OperationOutcome.Ok : OperationOutcome.Timeout);
                    }
                    catch (RedisErrorException ex) when (ex.Message.StartsWith("READONLY", StringComparison.Ordinal))
                    {
                        // A demoted primary refused it: not applied.
                        Drop(connections, w);
                        return new(OperationOutcome.Fail);
                    }
                    catch (Exception)
                    {
                        Drop(connections, w);
                        return new(OperationOutcome.Timeout);
                    }
                },
                async _ =>
                {
                    if (await redis.AskSentinelsForPrimaryAsync() is { } port)
                    {
                        Volatile.Write(ref primary, port);
                    }

                    await Task.Delay(50);
                },
                () =>
                {
                    var killedAt = Stopwatch.GetTimestamp();
                    redis.PrimaryProcess!.Kill();
                    Console.Error.WriteLine($"  killed the Redis primary (port {redis.PrimaryPort})");
                    return Task.FromResult(killedAt);
                });
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection?.Dispose();
            }
        }

        var lost = await CountLostAsync(Volatile.Read(ref primary), history.Snapshot());
        var figures = new Dictionary<string, double>
        {
            ["unavail_ms"] = unavailableMs,
            ["lost_acked"] = lost,
            ["applied_twice"] = 0,
            ["operations"] = history.Snapshot().Count,
        };
        var measurement = new RunFigures("redis-sentinel", "w2", "set-wait1", "run 1", figures);
        results.AddRun(measurement);
        results.Summarize(measurement with { Kind = "single" });
    }

    private static void Drop(RespConnection?[] connections, int worker)
    {
        connections[worker]?.Dispose();
        connections[worker] = null;
    }

    // Redis has no versions: a key's acknowledged write is lost when the final value is neither it
    // nor a write to that key invoked after it was (a later write may legitimately overwrite it).
    private static async Task<int> CountLostAsync(int primary, IReadOnlyList<HistoryOperation> history)
    {
        using var connection = await RespConnection.ConnectAsync(primary, TimeSpan.FromSeconds(10));
        var lost = 0;
        foreach (var key in history.GroupBy(o => o.Key, StringComparer.Ordinal))
        {
            var lastAck = key.Where(o => o.Outcome == OperationOutcome.Ok).MaxBy(o => o.Completed);
            if (lastAck is null)
            {
                continue;
            }

            var final = (string?)await connection.CallAsync("GET", key.Key);
            var allowed = key.Where(o => o.Invoked >= lastAck.Invoked && o.Outcome != OperationOutcome.Fail).Select(o => o.Value).ToHashSet(StringComparer.Ordinal);
            if (final is null || !allowed.Contains(final))
            {
                lost++;
            }
        }

        return lost;
    }
}
