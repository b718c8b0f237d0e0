using System.Diagnostics;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Reporting;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W3: one silo holds the items (RF=2, no standby yet); a second silo joins and becomes every
/// partition's standby. Figure: MB/s of state until every partition reports lag 0, and the write
/// throughput (Applied, 16 clients) during the transfer.
/// </summary>
internal static class W3LateJoiner
{
    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 1);
        var load = Stopwatch.StartNew();
        await Loading.LoadAsync(cluster, "w3", settings.W3Items, SafetyLevel.Local);
        Console.Error.WriteLine($"  loaded {settings.W3Items:N0} items in {load.Elapsed.TotalSeconds:0.0} s");

        await using var clients = await ClientPool.ConnectAsync(cluster, settings);
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var writes = clients.WriteLoopAsync(settings, "w3-writes", SafetyLevel.Applied, TimeSpan.Zero, TimeSpan.FromMinutes(10), stop.Token);
        await cluster.AddSiloAsync();
        var done = await cluster.WaitReplicatedAsync(lagZero: true, TimeSpan.FromMinutes(5));
        var seconds = clock.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        var during = await writes;
        if (!done)
        {
            Console.Error.WriteLine("  the joiner did not reach lag 0 within 5 minutes; the figure is a lower bound");
        }

        var figures = new Dictionary<string, double>
        {
            ["mb_per_s"] = Math.Round(settings.W3Items * 256.0 / 1_000_000 / seconds, 2),
            ["transfer_ms"] = Math.Round(seconds * 1000),
            ["ops_per_s_during"] = Math.Round(during.Operations / seconds),
            ["p99_us_during"] = during.Latency.ValueAtPercentile(99),
            ["items"] = settings.W3Items,
        };
        var measurement = new RunFigures("orleans-replication", "w3", null, "run 1", figures);
        results.AddRun(measurement);
        results.Summarize(measurement with { Kind = "single" });
    }
}
