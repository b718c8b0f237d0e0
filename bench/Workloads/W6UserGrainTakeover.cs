using System.Diagnostics;
using OrleansReplication.Bench.Cluster;
using OrleansReplication.Bench.Reporting;
using OrleansReplication.Client;
using OrleansReplication.Examples;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Workloads;

/// <summary>
/// W6 (beside W5, for an Orleans user's own grains): <c>--w6-grains</c> shopping carts on two silos
/// on PostgreSQL; SIGKILL the silo hosting most of them and time until every cart it hosted answers
/// again through a plain Orleans grain call. Warm: <c>[ReplicatedState]</c> carts reactivate on the
/// promoted standby from its warm copy. Cold: the same cart with <c>[PersistentState("stored-cart", "store")]</c>
/// on Orleans' ADO.NET storage reactivates anywhere and reads its row. Each in a fresh cluster;
/// the figures are medians of <c>--runs</c> runs, with a sweep of the same carts while all are
/// active (the cost of the calls alone).
/// </summary>
internal static class W6UserGrainTakeover
{
    private const int Callers = 64;

    public static async Task RunAsync(BenchSettings settings, Results results)
    {
        var ownPostgres = settings.Postgres is null ? await PostgresServer.StartAsync(durable: true) : null;
        settings.Postgres ??= ownPostgres;
        try
        {
            var runs = new List<RunFigures>();
            for (var run = 0; run < settings.Runs; run++)
            {
                var warm = await TakeoverAsync(settings, (client, key) => client.GetGrain<IShoppingCartGrain>(key).AddAsync("apple", 1), (client, key) => client.GetGrain<IShoppingCartGrain>(key).GetAsync(), "replicated");
                var cold = await TakeoverAsync(settings, (client, key) => client.GetGrain<IStoredShoppingCartGrain>(key).AddAsync("apple", 1), (client, key) => client.GetGrain<IStoredShoppingCartGrain>(key).GetAsync(), "persistent");
                var figures = new Dictionary<string, double>
                {
                    ["grains_moved_warm"] = warm.Moved,
                    ["grains_moved_cold"] = cold.Moved,
                    ["warm_ms"] = Math.Round(warm.AnsweringMs),
                    ["cold_ms"] = Math.Round(cold.AnsweringMs),
                    ["warm_first_ms"] = Math.Round(warm.FirstMs),
                    ["cold_first_ms"] = Math.Round(cold.FirstMs),
                    ["ratio"] = Math.Round(cold.AnsweringMs / Math.Max(1, warm.AnsweringMs), 2),
                    ["warm_sweep_before_ms"] = Math.Round(warm.SweepBeforeMs),
                    ["cold_sweep_before_ms"] = Math.Round(cold.SweepBeforeMs),
                };
                var measurement = new RunFigures("orleans-replication", "w6", null, $"run {run + 1}", figures);
                results.AddRun(measurement);
                runs.Add(measurement);
                Console.Error.WriteLine("  run " + (run + 1) + ": " + measurement.Line);
            }

            results.Summarize(runs[0] with { Kind = "median", Figures = Results.Median(runs) });
        }
        finally
        {
            if (ownPostgres is not null)
            {
                settings.Postgres = null;
                await ownPostgres.DisposeAsync();
            }
        }
    }

    private static async Task<Takeover> TakeoverAsync(BenchSettings settings, Func<ReplicationClient, string, Task<CartView>> add, Func<ReplicationClient, string, Task<CartView>> get, string kind)
    {
        await using var cluster = await SiloCluster.StartAsync(settings, silos: 2);

        // A 5 s response timeout bounds a call that was in flight to the killed silo (Orleans' client
        // waits for it otherwise): the same for both kinds.
        var clients = await cluster.ConnectClientsAsync(4, TimeSpan.FromSeconds(5));
        try
        {
            var keys = Enumerable.Range(0, settings.W6Grains).Select(i => "user-" + i).ToArray();
            var hosts = new string[keys.Length];
            await SweepAsync(keys.Length, async i => hosts[i] = (await add(clients[i % clients.Count], keys[i])).Silo);
            await cluster.WaitReplicatedAsync(lagZero: true, TimeSpan.FromMinutes(3));

            // The silo hosting most carts; its Orleans address names its silo port.
            var victim = cluster.Silos.MaxBy(s => hosts.Count(h => h.Contains($":{SiloPorts.BaseSiloPort + s.Instance}:", StringComparison.Ordinal)))!;
            var port = $":{SiloPorts.BaseSiloPort + victim.Instance}:";
            var moved = Enumerable.Range(0, keys.Length).Where(i => hosts[i].Contains(port, StringComparison.Ordinal)).Select(i => keys[i]).ToArray();

            var before = Stopwatch.StartNew();
            await SweepAsync(moved.Length, i => get(clients[i % clients.Count], moved[i]));
            var sweepBefore = before.Elapsed.TotalMilliseconds;

            var clock = Stopwatch.StartNew();
            await victim.KillAsync();
            var failed = 0;
            var failures = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
            var first = 0L;
            await SweepAsync(moved.Length, async i =>
            {
                while (true)
                {
                    try
                    {
                        var view = await get(clients[i % clients.Count], moved[i]);
                        if (!view.Silo.Contains(port, StringComparison.Ordinal))
                        {
                            Interlocked.CompareExchange(ref first, clock.ElapsedTicks, 0);
                            return;
                        }
                    }
                    catch (Exception ex) when (clock.Elapsed < TimeSpan.FromMinutes(3) && ex is not OperationCanceledException)
                    {
                        Interlocked.Increment(ref failed);
                        failures.AddOrUpdate(ex.GetType().Name, 1, static (_, n) => n + 1);
                    }

                    await Task.Delay(5);
                }
            });
            var answering = clock.Elapsed.TotalMilliseconds;
            var firstMs = TimeSpan.FromTicks((long)(first * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency))).TotalMilliseconds;
            Console.Error.WriteLine($"  {kind}: {moved.Length} of {keys.Length} carts were on the killed silo; the first answered again {firstMs:0} ms after the SIGKILL, all {answering:0} ms after it ({failed} calls failed meanwhile{(failed == 0 ? string.Empty : ": " + string.Join(", ", failures.OrderByDescending(f => f.Value).Select(f => $"{f.Value} {f.Key}")))}; a sweep of them before the kill took {sweepBefore:0} ms)");
            return new Takeover(moved.Length, answering, sweepBefore, firstMs);
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(clients);
        }
    }

    // Runs call(0..count-1) with Callers concurrent callers.
    private static Task SweepAsync(int count, Func<int, Task> call)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                await call(i);
            }
        })));
    }

    private sealed record Takeover(int Moved, double AnsweringMs, double SweepBeforeMs, double FirstMs);
}
