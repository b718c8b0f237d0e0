using System.Diagnostics;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Redis;
using OrleansReplication.Bench.Reporting;
using OrleansReplication.Bench.Workloads;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench;

/// <summary>Parses the command line and runs the chosen workloads, printing a summary line per measurement.</summary>
internal static class BenchCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        BenchSettings settings;
        try
        {
            settings = BenchSettings.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }

        if (settings.Command == "micro")
        {
            Micro.MicroBenchmarks.Run(settings.MicroArguments);
            return 0;
        }

        if (settings.Command == "nemesis")
        {
            return await Nemesis.NemesisCommand.RunAsync(settings);
        }

        if (settings.Peer == "redis" && RedisCluster.FindServer(out var howToInstall) is null)
        {
            Console.Error.WriteLine(howToInstall);
            return 2;
        }

#if DEBUG
        Console.Error.WriteLine("warning: a Debug build; figures are only meaningful from `dotnet run -c Release --project bench`.");
#endif
        var results = new Results(settings);
        var clock = Stopwatch.StartNew();
        try
        {
            if (settings.Storage == "postgres")
            {
                settings.Postgres = await PostgresServer.StartAsync(durable: true);
            }

            var workloads = settings.Command == "all" ? ["w1", "w2", "w3", "w4", "w5", "w6"] : new[] { settings.Command };
            foreach (var workload in workloads)
            {
                Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {workload}...");
                await (workload switch
                {
                    "w1" => W1ReplicatedWrites.RunAsync(settings, results),
                    "w2" => RunW2Async(settings, results),
                    "w3" => W3LateJoiner.RunAsync(settings, results),
                    "w4" => W4RollingRestart.RunAsync(settings, results),
                    "w5" => W5WarmTakeover.RunAsync(settings, results),
                    "ae" => AntiEntropyCost.RunAsync(settings, results),
                    _ => W6UserGrainTakeover.RunAsync(settings, results),
                });
                results.Save();
            }

            Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] done; every run is in {settings.Output}");
            return 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
        {
            Console.Error.WriteLine($"The benchmark stopped: {ex}");
            results.Save();
            return 1;
        }
        finally
        {
            if (settings.Postgres is not null)
            {
                await settings.Postgres.DisposeAsync();
            }
        }
    }

    // Ours first, its silos gone before Redis starts: each system has the machine to itself.
    private static async Task RunW2Async(BenchSettings settings, Results results)
    {
        await W2Failover.RunAsync(settings, results);
        if (settings.Peer == "redis")
        {
            await W2RedisPeer.RunAsync(settings, results);
        }
    }
}
