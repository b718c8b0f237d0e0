using System.Diagnostics;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Reporting;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W4: W1 at Applied on three silos while each silo in turn gets SIGTERM (it drains), is started
/// again on its data and the cluster is back in sync before the next. Figures: failed client
/// requests and p99 latency during the roll.
/// </summary>
internal static class W4RollingRestart
{
    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 3);
        await using var clients = await ClientPool.ConnectAsync(cluster, settings);
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var writes = clients.WriteLoopAsync(settings, "w4", SafetyLevel.Applied, TimeSpan.Zero, TimeSpan.FromMinutes(10), stop.Token);
        await Task.Delay(2000);
        for (var i = 0; i < cluster.Silos.Count; i++)
        {
            var old = cluster.Silos[i];
            await StopOrKillAsync(old);
            cluster.Silos[i] = await old.RestartAsync();
            await old.DisposeAsync();
            if (!await cluster.WaitCarriesPartitionsAsync(cluster.Silos[i], TimeSpan.FromMinutes(2)) || !await cluster.WaitReplicatedAsync(lagZero: false, TimeSpan.FromMinutes(2)))
            {
                Console.Error.WriteLine($"  after restarting silo instance {old.Instance} it did not carry partitions again with every partition in sync within 2 minutes");
            }

            Console.Error.WriteLine($"  restarted silo instance {old.Instance} at {clock.Elapsed.TotalSeconds:0.0} s");
        }

        await Task.Delay(1000);
        await stop.CancelAsync();
        var during = await writes;
        var seconds = clock.Elapsed.TotalSeconds;
        var figures = new Dictionary<string, double>
        {
            ["failed"] = during.Failed,
            ["p99_us"] = during.Latency.ValueAtPercentile(99),
            ["ops_per_s"] = Math.Round(during.Operations / seconds),
            ["roll_ms"] = Math.Round(seconds * 1000),
        };
        var measurement = new RunFigures("orleans-replication", "w4", "applied", "run 1", figures);
        results.AddRun(measurement);
        results.Summarize(measurement with { Kind = "single" });
    }

    // SIGTERM as Kubernetes sends it; a silo that has not drained within a minute is killed so the roll goes on.
    private static async Task StopOrKillAsync(SiloProcess silo)
    {
        try
        {
            await silo.StopAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            await silo.KillAsync();
        }
    }
}
