using System.Globalization;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansReplication.Tests.Processes.Nemesis;

/// <summary>
/// The nemesis suite's fixed-seed slice (issue 16): three real silo processes on SQLite or PostgreSQL, writers
/// recording every operation, and a seeded schedule of faults (SIGKILL of the busiest primary or
/// of the quietest silo, a SIGSTOP shorter than failure detection, a SIGSTOP until the silo is
/// declared dead and the store stopped and started again (both PostgreSQL), a SIGTERM drain-and-restart),
/// each followed by the cluster settling and the writers making progress; then every key is read
/// back and the history checked: nothing acknowledged lost, nothing applied twice, every key
/// linearizable. A failure names the seed, which replays the schedule.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class NemesisTests(ITestOutputHelper output, PostgresServerFixture postgres) : IDisposable, IClassFixture<PostgresServerFixture>
{
    private const int Partitions = 8;
    private const int Keys = 200;
    private const int Writers = 4;
    private const int FaultsPerSchedule = 5;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private const int ProgressPerStep = 20;
    private readonly TempDirectory _dataDir = new("or-nemesis-");

    public void Dispose() => _dataDir.Dispose();

    private string[] _storeArguments = [];

    /// <summary>
    /// The schedules: seeds 1-4 (two per store) in every test run; <c>NEMESIS_SCHEDULES=N</c> runs
    /// N more (from <c>NEMESIS_FIRST_SEED</c>, default 100), alternating SQLite and PostgreSQL.
    /// </summary>
    public static IEnumerable<object[]> Schedules()
    {
        object[][] fixedSlice = [[1, "sqlite"], [2, "sqlite"], [3, "postgres"], [4, "postgres"]];
        var more = int.TryParse(Environment.GetEnvironmentVariable("NEMESIS_SCHEDULES"), CultureInfo.InvariantCulture, out var n) ? n : 0;
        var first = int.TryParse(Environment.GetEnvironmentVariable("NEMESIS_FIRST_SEED"), CultureInfo.InvariantCulture, out var f) ? f : 100;
        return fixedSlice.Concat(Enumerable.Range(first, Math.Max(more, 0)).Select(seed => new object[] { seed, seed % 2 == 0 ? "postgres" : "sqlite" }));
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public async Task SeededFaultSchedule_NothingAcknowledgedLostOrDoubled_EveryKeyLinearizable(int seed, string store)
    {
        _storeArguments = store == "postgres" ? ["--storage", "postgres", "--connection-string", await PausableConnectionStringAsync()] : [];
        var schedule = NemesisSchedule.FromSeed(seed, FaultsPerSchedule, sharedFileStore: store == "sqlite");
        output.WriteLine($"{store}, {schedule}");
        var targets = new Random(seed);
        var done = new List<string>();
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, Partitions, _storeArguments);
        try
        {
            await using var workload = new HistoryWorkload("nemesis", Keys);
            await workload.StartAsync(silos.Values, Writers);
            await workload.WaitForProgressAsync(ProgressPerStep, "before the first fault");
            foreach (var fault in schedule.Faults)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var (what, ended, exiting) = await BreakAsync(fault, silos, targets);
                await workload.WaitForProgressAsync(1, $"after {what}");
                var writing = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                if (ended is not null)
                {
                    var exitCode = await exiting;
                    Assert.True(fault.Kind != FaultKind.RestartGracefully || exitCode == 0, $"{what}: exited with {exitCode} after SIGTERM.{ended.Describe()}");
                    what += $", exited after {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms, restarted as {await RestartAsync(ended, silos)}";
                }

                done.Add(what);
                await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);
                await workload.WaitForProgressAsync(ProgressPerStep, $"after {what}, the cluster settled");
                output.WriteLine($"{what}: every writer acknowledged again {writing.TotalMilliseconds:0} ms after the fault began; settled after {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms");
            }

            var report = await workload.StopAndCheckAsync(silos.Values.First());
            HistoryWorkload.AssertClean(report, $" Schedule {schedule}; ran: {string.Join("; ", done)}.");
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"Schedule {schedule} failed after: {string.Join("; ", done)}.{ProcessCluster.Logs(silos)}", ex);
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }

    // Applies one fault; returns what it did (for the report) and the process it ends, if any, with
    // its exit (a graceful stop is still draining: the writers are watched meanwhile).
    private async Task<(string What, SiloProcess? Ended, Task<int> Exiting)> BreakAsync(Fault fault, Dictionary<string, SiloProcess> silos, Random targets)
    {
        var map = await silos.Values.First().PartitionsAsync();
        var leads = silos.Keys.ToDictionary(id => id, id => map.Count(p => p.GetProperty("primary").GetString() == id));
        var id = fault.Kind switch
        {
            FaultKind.KillBusiestPrimary or FaultKind.PauseUntilDeposed => leads.MaxBy(l => l.Value).Key,
            FaultKind.KillQuietestSilo => leads.MinBy(l => l.Value).Key,
            _ => silos.Keys.Order(StringComparer.Ordinal).ElementAt(targets.Next(silos.Count)),
        };
        var silo = silos[id];
        var what = $"{fault} on {id} ({leads[id]} primaries)";
        switch (fault.Kind)
        {
            case FaultKind.KillBusiestPrimary or FaultKind.KillQuietestSilo:
                await silo.KillAsync();
                break;
            case FaultKind.RestartGracefully:
                silos.Remove(id);
                return (what, silo, silo.StopAsync(Deadline));
            case FaultKind.PauseBriefly:
                await silo.PauseAsync();
                await Task.Delay(fault.Pause); // the fault itself: the silo is frozen this long
                await silo.ResumeAsync();
                return (what, null, Task.FromResult(0));
            case FaultKind.StoreOutage:
                await postgres.StopAsync();
                await Task.Delay(fault.Outage); // the fault itself: the store is down this long
                await postgres.StartAgainAsync();
                return ($"{fault}", null, Task.FromResult(0));
            case FaultKind.PauseUntilDeposed:
                var survivor = silos.Values.First(s => s != silo);
                await silo.PauseAsync();
                await Wait.UntilAsync(async () => await ProcessCluster.StatusOfAsync(survivor, id) == "dead", Deadline, $"the others to declare the paused silo {id} dead");
                await silo.ResumeAsync();
                await silo.WaitForExitAsync(Deadline); // deposed: it learns it was declared dead and stops
                break;
        }

        silos.Remove(id);
        return (what, silo, Task.FromResult(silo.ExitCode));
    }

    // A new process in the ended one's place (same instance: ports and data directory); returns its id.
    private async Task<string> RestartAsync(SiloProcess ended, Dictionary<string, SiloProcess> silos)
    {
        await ended.DisposeAsync();
        var restarted = await SiloProcess.StartAsync(_dataDir.Path, ended.Instance, [.. _storeArguments, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture)]);
        silos[restarted.SiloId] = restarted;
        return restarted.SiloId;
    }

    // A paused silo's open transaction is ended by the server (it would hold its locks otherwise).
    private async Task<string> PausableConnectionStringAsync() =>
        new Npgsql.NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync()) { Options = "-c idle_in_transaction_session_timeout=1000" }.ConnectionString;
}
