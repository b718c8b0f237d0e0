using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Reporting;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W5: 100,000 items on two silos; SIGKILL the silo leading the most partitions and time until
/// the survivor leads every partition and serves every item — once with RF=2 (the warm standby
/// takes over) and once with RF=1 (the partitions reload from the store). Figure: cold / warm,
/// each figure the median of <c>--runs</c> runs.
/// </summary>
internal static class W5WarmTakeover
{
    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        var runs = new List<RunFigures>();
        for (var run = 0; run < settings.Runs; run++)
        {
            var warm = await TakeoverAsync(settings, replicationFactor: 2);
            var cold = await TakeoverAsync(settings, replicationFactor: 1);
            var figures = new Dictionary<string, double>
            {
                ["cold_ms"] = Math.Round(cold.Serving),
                ["warm_ms"] = Math.Round(warm.Serving),
                ["ratio"] = Math.Round(cold.Serving / Math.Max(1, warm.Serving), 2),

                // Failure detection is the same for both; what follows the new map is the takeover itself.
                ["cold_after_map_ms"] = Math.Round(cold.Serving - cold.Promoted),
                ["warm_after_map_ms"] = Math.Round(warm.Serving - warm.Promoted),
                ["ratio_after_map"] = Math.Round((cold.Serving - cold.Promoted) / Math.Max(1, warm.Serving - warm.Promoted), 2),
                ["cold_listed_ms"] = Math.Round(cold.Listed),
                ["warm_listed_ms"] = Math.Round(warm.Listed),
            };
            var measurement = new RunFigures("orleans-replication", "w5", null, $"run {run + 1}", figures);
            results.AddRun(measurement);
            runs.Add(measurement);
            Console.Error.WriteLine("  run " + (run + 1) + ": " + measurement.Line);
        }

        // Each figure's own median (the ratio of the medians would mix runs).
        results.Summarize(runs[0] with { Kind = "median", Figures = Results.Median(runs) });
    }

    private static async Task<Takeover> TakeoverAsync(BenchSettings settings, int replicationFactor)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 1, replicationFactor);

        // Durable: with RF=1 the store is the only other copy.
        await Loading.LoadAsync(cluster, "w5", settings.W5Items, SafetyLevel.Durable);
        var survivor = cluster.Silos[0];
        await cluster.AddSiloAsync();
        if (!await cluster.WaitReplicatedAsync(lagZero: true, TimeSpan.FromMinutes(3)))
        {
            Console.Error.WriteLine($"  RF={replicationFactor}: the two silos did not settle within the deadline; measuring anyway");
        }

        var victim = await cluster.BusiestPrimaryAsync();
        survivor = cluster.Silos.Single(s => s != victim);

        // Detection is the same in both modes only if the survivor has reached the victim: a refused
        // port counts against a peer once it was reached (before, only the 2 s probe timeout does).
        // With RF=1 nothing else connects the two, and the joiner would be killed within ~100 ms.
        await WaitReachedAsync(survivor, victim);
        var clock = Stopwatch.StartNew();
        await victim.KillAsync();
        double? promoted = null;
        double? serving = null;
        while (clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            try
            {
                if (promoted is null && (await survivor.PartitionsAsync()).All(r => r.GetProperty("primary").GetString() == survivor.SiloId))
                {
                    promoted = clock.Elapsed.TotalMilliseconds;
                }

                if (promoted is not null && serving is null && await ServesEveryItemAsync(survivor, settings.W5Items))
                {
                    serving = clock.Elapsed.TotalMilliseconds;
                }

                // Confirms what the cheap poll above claimed; paging 100,000 items over HTTP takes
                // seconds here, the same in both modes, so it is reported apart.
                if (serving is not null && await CountItemsAsync(survivor) == settings.W5Items)
                {
                    var listed = clock.Elapsed.TotalMilliseconds;
                    Console.Error.WriteLine($"  RF={replicationFactor}: the survivor led every partition {promoted:0} ms, served every item {serving:0} ms and had listed every item {listed:0} ms after the SIGKILL");
                    return new Takeover(promoted ?? serving.Value, serving.Value, listed);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                // Partitions are moving; ask again.
            }

            await Task.Delay(5);
        }

        throw new TimeoutException($"W5 RF={replicationFactor}: the survivor did not serve all {settings.W5Items} items within 3 minutes of the SIGKILL.");
    }

    // The survivor's own view: every partition serving here (its items in memory, loaded or
    // promoted) and the item count complete. One small request, so the poll is fine-grained.
    private static async Task<bool> ServesEveryItemAsync(SiloProcess silo, int items)
    {
        var cluster = await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster");
        return cluster.GetProperty("partitionsServing").GetInt32() == cluster.GetProperty("partitionCount").GetInt32()
            && cluster.GetProperty("items").GetInt64() == items;
    }

    private static async Task WaitReachedAsync(SiloProcess survivor, SiloProcess victim)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var silos = await survivor.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos");
            if (silos.GetProperty("silos").EnumerateArray().Any(s => s.GetProperty("id").GetString() == victim.SiloId && s.GetProperty("status").GetString() == "active"))
            {
                return;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"W5: silo {survivor.SiloId} did not see silo {victim.SiloId} active in Orleans membership within 30 s.");
            }

            await Task.Delay(10);
        }
    }

    private sealed record Takeover(double Promoted, double Serving, double Listed);

    private static async Task<int> CountItemsAsync(SiloProcess silo)
    {
        var count = 0;
        string? after = null;
        while (true)
        {
            var url = "v1/components/w5/items?limit=1000" + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after));
            using var response = await silo.Http.GetAsync(url);
            if (!response.IsSuccessStatusCode)
            {
                return -1;
            }

            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            count += page.GetProperty("items").GetArrayLength();
            if (!page.TryGetProperty("next", out var next) || next.ValueKind != JsonValueKind.String)
            {
                return count;
            }

            after = next.GetString();
        }
    }
}
