using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Reporting;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// AE (anti-entropy, issue 14): W1 at Applied with anti-entropy on (checks 30x and store checks
/// 37x more often than the defaults) and off (no clump hashes kept), two clusters measured run by
/// run in turn; then 1,000,000 items verified in sync — every partition's standbys compared by
/// root hash (time, and the bytes of the check and its answer per standby), and the store's rows
/// compared with the warm copies.
/// </summary>
internal static class AntiEntropyCost
{
    private const string Component = "ae";

    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        await MeasureWritesAsync(settings, results);
        await MeasureVerificationAsync(settings, results);
    }

    private static async Task MeasureWritesAsync(BenchSettings settings, Results results)
    {
        var on = new Dictionary<string, string>
        {
            ["Silo__Replication__AntiEntropy__CheckInterval"] = "00:00:01",
            ["Silo__Replication__AntiEntropy__StoreCheckInterval"] = "00:00:16",
        };
        var off = new Dictionary<string, string> { ["Silo__Replication__AntiEntropy__Clumps"] = "0" };
        await using var withIt = await SiloCluster.StartAsync(settings, silos: settings.W1Silos, environment: on);
        await using var without = await SiloCluster.StartAsync(settings, silos: settings.W1Silos, environment: off);
        await using var withClients = await ClientPool.ConnectAsync(withIt, settings);
        await using var withoutClients = await ClientPool.ConnectAsync(without, settings);
        var runs = new Dictionary<string, List<RunFigures>> { ["on"] = [], ["off"] = [] };
        for (var run = 0; run < settings.Runs; run++)
        {
            foreach (var (mode, clients) in new[] { ("on", withClients), ("off", withoutClients) })
            {
                var result = await clients.WriteLoopAsync(settings, Component, SafetyLevel.Applied, settings.Warmup, settings.Duration);
                var figures = W1ReplicatedWrites.Figures(result);
                figures["failed"] = result.Failed;
                var measurement = new RunFigures("orleans-replication", "ae-w1", "applied", $"anti-entropy {mode} run {run + 1}", figures);
                results.AddRun(measurement);
                runs[mode].Add(measurement);
                Console.Error.WriteLine($"  anti-entropy {mode}, run {run + 1}: {measurement.Line}");
            }
        }

        var onMedian = Results.Median(runs["on"]);
        var offMedian = Results.Median(runs["off"]);
        results.Summarize(runs["on"][0] with { Kind = "median anti-entropy on", Figures = onMedian });
        results.Summarize(runs["off"][0] with { Kind = "median anti-entropy off", Figures = offMedian });
        results.Summarize(new RunFigures("orleans-replication", "ae-w1", "applied", "on/off", new Dictionary<string, double>
        {
            ["ops_ratio"] = Math.Round(onMedian["ops_per_s"] / Math.Max(1, offMedian["ops_per_s"]), 3),
            ["p99_ratio"] = Math.Round(onMedian["p99_us"] / Math.Max(1, offMedian["p99_us"]), 3),
        }));
    }

    private static async Task MeasureVerificationAsync(BenchSettings settings, Results results)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 2);
        var load = Stopwatch.StartNew();
        await Loading.LoadAsync(cluster, Component, settings.AeItems, SafetyLevel.Applied);
        if (!await cluster.WaitReplicatedAsync(lagZero: true, TimeSpan.FromMinutes(5)))
        {
            Console.Error.WriteLine("  the standbys did not settle within 5 minutes; measuring anyway");
        }

        Console.Error.WriteLine($"  loaded {settings.AeItems:N0} items in {load.Elapsed.TotalSeconds:0.0} s");
        var http = cluster.Silos[0].Http;
        var (checkBytes, divergedBytes) = RecordBytes();
        var runs = new List<RunFigures>();
        for (var run = 0; run < settings.Runs; run++)
        {
            var replicas = Stopwatch.StartNew();
            var standbys = await VerifyAsync(http, store: false);
            var replicaMs = replicas.Elapsed.TotalMilliseconds;
            var stored = Stopwatch.StartNew();
            await VerifyAsync(http, store: true);
            var storeMs = stored.Elapsed.TotalMilliseconds;
            var figures = new Dictionary<string, double>
            {
                ["items"] = settings.AeItems,
                ["partitions"] = cluster.Partitions,
                ["standbys_in_sync"] = standbys,
                ["verify_ms"] = Math.Round(replicaMs, 1),
                ["bytes_per_standby"] = checkBytes,
                ["bytes_total"] = checkBytes * standbys,
                ["bytes_per_standby_if_diverged"] = divergedBytes,
                ["store_verify_ms"] = Math.Round(storeMs),
            };
            var measurement = new RunFigures("orleans-replication", "ae-verify", null, $"run {run + 1}", figures);
            results.AddRun(measurement);
            runs.Add(measurement);
            Console.Error.WriteLine("  run " + (run + 1) + ": " + measurement.Line);
        }

        results.Summarize(runs[0] with { Kind = "median", Figures = Results.Median(runs) });
    }

    /// <summary>Verifies every partition through one silo; returns how many standbys were found in sync (throws on any other outcome).</summary>
    private static async Task<int> VerifyAsync(HttpClient http, bool store)
    {
        using var response = await http.PostAsync("v1/cluster/partitions/verify" + (store ? "?store=true" : string.Empty), null);
        response.EnsureSuccessStatusCode();
        var inSync = 0;
        foreach (var partition in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partitions").EnumerateArray())
        {
            if (partition.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"Partition {partition.GetProperty("partition")} could not be verified: {error}");
            }

            foreach (var standby in partition.GetProperty("standbys").EnumerateArray())
            {
                var outcome = standby.TryGetProperty("lastCheck", out var check) ? check.GetProperty("outcome").GetString() : "none";
                inSync += outcome == "in-sync" ? 1 : throw new InvalidOperationException($"Partition {partition.GetProperty("partition")}: standby {standby.GetProperty("silo")} ended its check '{outcome}'.");
            }

            if (store && partition.GetProperty("storeCheck").GetProperty("outcome").GetString() != "in-sync")
            {
                throw new InvalidOperationException($"Partition {partition.GetProperty("partition")}: the store differed from the warm copy.");
            }
        }

        return inSync;
    }

    /// <summary>
    /// The serialized bytes of a check and its answer, as Orleans carries them in the replication
    /// stream (both ride in the calls that carry batches), in sync and with the 64 clump hashes of a
    /// standby whose root differed.
    /// </summary>
    private static (double InSync, double Diverged) RecordBytes()
    {
        using var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(DigestCheck).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var check = new ReplicationMessage(new ReplicationBatch { Partition = 15, Epoch = 3, Check = new DigestCheck { Round = 1_000, Sequence = 1_000_000, Clumps = 64, Root = ulong.MaxValue / 3 } }, null, 100);
        var matched = new ReplicationAck { Partition = 15, Epoch = 3, ReceivedSequence = 1_000_000, AppliedSequence = 1_000_000, Digest = new DigestAnswer { Round = 1_000, Sequence = 1_000_000, Matched = true } };
        var clumps = Enumerable.Range(1, 64).Select(i => ulong.MaxValue / (ulong)i).ToArray();
        var diverged = matched with { Digest = new DigestAnswer { Round = 1_000, Sequence = 1_000_000, Clumps = clumps } };
        var checkBytes = serializer.SerializeToArray(check).Length;
        return (checkBytes + serializer.SerializeToArray(matched).Length, checkBytes + serializer.SerializeToArray(diverged).Length);
    }
}
