using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>
/// Runs nemesis schedules (issue 16): three real silo processes on SQLite or PostgreSQL, writers
/// recording every operation (.NET clients and plain HTTP, at <c>Applied</c> and <c>Durable</c>:
/// <see cref="HistoryWriter.NemesisMix"/>) beside a change-feed subscriber, the schedule's faults one after the
/// other, each followed by the writers making progress and the cluster settling; then every key
/// read back, the history checked, and every acknowledged write checked to have reached the
/// subscriber. The test suite runs a fixed-seed slice, <c>bench nemesis</c> the long run.
/// </summary>
/// <param name="postgres">The PostgreSQL server PostgreSQL schedules use (a fresh database each); null when only SQLite runs.</param>
/// <param name="log">Where progress lines go (a test's output, the console).</param>
public sealed partial class NemesisRunner(PostgresServer? postgres, Action<string> log)
{
    private const int Silos = 3;
    private const int Partitions = 8;
    private const int Keys = 200;
    private const int ProgressPerStep = 20;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private string[] _storeArguments = [];
    private string _dataDir = string.Empty;

    /// <summary>
    /// Runs <paramref name="schedule"/> in a fresh data directory (and database). Returns the
    /// checker's verdict; throws when the cluster did not recover within the deadlines (with the
    /// schedule, what ran, and the silos' logs).
    /// </summary>
    public async Task<NemesisOutcome> RunAsync(NemesisSchedule schedule)
    {
        if (schedule.Store == "postgres" && postgres is null)
        {
            throw new InvalidOperationException($"Schedule {schedule} needs a PostgreSQL server.");
        }

        var clock = Stopwatch.StartNew();
        var dataDir = Directory.CreateTempSubdirectory("or-nemesis-").FullName;
        _dataDir = dataDir;
        _storeArguments = schedule.Store == "postgres" ? ["--storage", "postgres", "--connection-string", await PausableDatabaseAsync()] : [];
        var targets = new Random(schedule.Seed);
        var done = new List<FaultOutcome>();
        string? breaking = null; // the fault under way, for a report of a cluster that did not recover from it
        var silos = await BalancedCluster.StartAsync(dataDir, Silos, Partitions, _storeArguments);
        _everyProcess.Clear();
        _everyProcess.AddRange(silos.Values);
        try
        {
            if (schedule.Faults.Any(f => f.NeedsBallast))
            {
                await Ballast.WriteAsync(silos.Values);
            }

            await using var workload = new HistoryWorkload("nemesis", Keys, watchChanges: true);
            await workload.StartAsync(silos.Values, HistoryWriter.NemesisMix());
            await workload.WaitForProgressAsync(ProgressPerStep, "before the first fault");
            foreach (var fault in schedule.Faults)
            {
                var started = Stopwatch.GetTimestamp();
                var (what, ended, exiting) = await BreakAsync(fault, silos, targets);
                breaking = what;
                await workload.WaitForProgressAsync(1, $"after {what}");
                if (ended is not null)
                {
                    var exitCode = await exiting;
                    if (fault.Kind == FaultKind.RestartGracefully && exitCode != 0)
                    {
                        throw new InvalidOperationException($"{what}: exited with {exitCode} after SIGTERM.{ended.Describe()}");
                    }

                    what += $", exited after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms, restarted as {await RestartAsync(ended, silos)}";
                    breaking = what;
                }

                await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);
                await workload.WaitForProgressAsync(ProgressPerStep, $"after {what}, the cluster settled");
                done.Add(new FaultOutcome(fault, what, workload.StallsByClass(started, Stopwatch.GetTimestamp()), Stopwatch.GetElapsedTime(started)));
                log(done[^1].ToString());
                breaking = null;
            }

            var report = await workload.StopAndCheckAsync(silos.Values.First());
            var violation = workload.Violations(report);
            if (violation is not null)
            {
                violation += $"{Environment.NewLine}Every silo's log, the ended ones' too: {SaveLogs(schedule, silos)}";
            }

            return new NemesisOutcome(schedule, done, report, workload.Acknowledged(), workload.AcknowledgedByClass(), violation, clock.Elapsed);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Whatever went wrong, the run goes on with the next schedule; the seed replays this one.
            var during = breaking is null ? string.Empty : $" Under way: {breaking}.";
            string saved;
            try
            {
                saved = SaveLogs(schedule, silos);
            }
            catch (IOException io)
            {
                saved = $"(not saved: {io.Message})";
            }

            throw new NemesisHarnessException($"Schedule {schedule} did not recover after: {string.Join("; ", done.Select(d => d.What))}.{during} {ex.Message}{(ex is TimeoutException ? string.Empty : $" ({ex.GetType().Name} at {ex.StackTrace})")}{ProcessCluster.Logs(silos)}{Environment.NewLine}Every silo's log, the ended ones' too: {saved}", ex);
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(silos.Values);
            TryDelete(dataDir);
        }
    }

    // Every process of the schedule, the ended ones included, for the logs of a violation.
    private readonly List<SiloProcess> _everyProcess = [];

    private string SaveLogs(NemesisSchedule schedule, Dictionary<string, SiloProcess> silos)
    {
        var folder = Directory.CreateTempSubdirectory($"or-nemesis-logs-{schedule.Seed}-").FullName;
        foreach (var silo in _everyProcess.Concat(silos.Values).Distinct())
        {
            var name = $"{silo.Instance}-{silo.ProcessId}.log";
            File.WriteAllText(Path.Combine(folder, name), $"{silo.CommandLine}{Environment.NewLine}{silo.StandardOutput}{Environment.NewLine}--- stderr ---{Environment.NewLine}{silo.StandardError}");
        }

        return folder;
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
            FaultKind.KillQuietestSilo or FaultKind.KillJoinerCatchingUp or FaultKind.KillPrimaryOfJoiner => leads.MinBy(l => l.Value).Key,
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
                await StoreOutageAsync(fault.Outage);
                return ($"{fault}", null, Task.FromResult(0));
            case FaultKind.PauseUntilDeposed:
                var survivor = silos.Values.First(s => s != silo);
                await silo.PauseAsync();
                await Wait.UntilAsync(async () => await ProcessCluster.StatusOfAsync(survivor, id) == "dead", Deadline, $"the others to declare the paused silo {id} dead");
                await silo.ResumeAsync();
                await silo.WaitForExitAsync(Deadline); // deposed: it learns it was declared dead and stops
                break;
            case FaultKind.KillJoinerCatchingUp or FaultKind.KillPrimaryOfJoiner:
                return await KillAroundCatchUpAsync(fault, silo, silos, what);
        }

        silos.Remove(id);
        return (what, silo, Task.FromResult(silo.ExitCode));
    }

    // SIGKILL of the quietest silo, a new process in its place, and, while that one catches up as a
    // standby, SIGKILL of the joiner itself or of the primary it catches up from. The new process is
    // watched before it is ready: a silo reports ready only once its standbys caught up.
    private async Task<(string What, SiloProcess? Ended, Task<int> Exiting)> KillAroundCatchUpAsync(Fault fault, SiloProcess quietest, Dictionary<string, SiloProcess> silos, string what)
    {
        await quietest.KillAsync();
        silos.Remove(quietest.SiloId);
        await quietest.DisposeAsync();
        var joiner = SiloProcess.Launch(quietest.Options with { Instance = quietest.Instance });
        _everyProcess.Add(joiner);
        var sameEndpoint = quietest.SiloId[..(quietest.SiloId.IndexOf('@', StringComparison.Ordinal) + 1)];
        // The new incarnation only: a primary may still list the killed one, out of sync, for a moment.
        var killed = quietest.SiloId;
        var (partition, primary) = await CatchingUpAsync(
            silos,
            id => id.StartsWith(sameEndpoint, StringComparison.Ordinal) && id != killed,
            besideInSyncStandby: fault.Kind == FaultKind.KillPrimaryOfJoiner);
        var seen = partition is null ? "before it was seen catching up (it caught up at once)" : $"while it caught up on partition {partition} from {primary}";
        if (fault.Kind == FaultKind.KillJoinerCatchingUp || primary is null)
        {
            await joiner.KillAsync();
            return ($"{what}, restarted, and the new process SIGKILLed {seen}", joiner, Task.FromResult(joiner.ExitCode));
        }

        var ended = silos[primary];
        await ended.KillAsync();
        silos.Remove(primary);
        await joiner.WaitUntilReadyAsync();
        silos[joiner.SiloId] = joiner;
        return ($"{what}, restarted as {joiner.SiloId}; SIGKILL of the primary {primary} {seen}", ended, Task.FromResult(ended.ExitCode));
    }

    // The first partition (and its primary) with a standby on the joiner not yet in sync, as the
    // primary sees it (with besideInSyncStandby, one that also has another standby in sync: the
    // primary's death is then one failure, which must lose nothing); nulls when none was seen
    // within the deadline (it caught up at once).
    private static async Task<(int? Partition, string? Primary)> CatchingUpAsync(Dictionary<string, SiloProcess> silos, Func<string, bool> isJoiner, bool besideInSyncStandby)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            foreach (var (id, silo) in silos)
            {
                try
                {
                    foreach (var view in await silo.PartitionsAsync())
                    {
                        if (view.GetProperty("primary").GetString() == id
                            && PartitionViews.Standbys(view).Any(s => isJoiner(PartitionViews.SiloOf(s)) && !PartitionViews.InSync(s))
                            && (!besideInSyncStandby || PartitionViews.Standbys(view).Any(s => !isJoiner(PartitionViews.SiloOf(s)) && PartitionViews.InSync(s))))
                        {
                            return (view.GetProperty("id").GetInt32(), id);
                        }
                    }
                }
                catch (HttpRequestException)
                {
                    // A silo busy restarting partitions: ask the next.
                }
            }

            await Task.Delay(10);
        }

        return (null, null);
    }

    // The store unavailable for a while: PostgreSQL crashed (immediate stop) and started again; SQLite's file write
    // lock held by this process, as a stalled writer would hold it.
    private async Task StoreOutageAsync(TimeSpan outage)
    {
        if (postgres is not null && _storeArguments.Length > 0)
        {
            await postgres.StopAsync(immediate: true);
            await Task.Delay(outage); // the fault itself: the store is down this long
            await postgres.StartAgainAsync();
            return;
        }

        var file = Path.Combine(_dataDir, "replication.db");
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, DefaultTimeout = 60, Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using (var begin = new SqliteCommand("BEGIN EXCLUSIVE", connection))
        {
            await begin.ExecuteNonQueryAsync();
        }

        await Task.Delay(outage); // the fault itself: every other writer waits on the lock this long
        await using var rollback = new SqliteCommand("ROLLBACK", connection);
        await rollback.ExecuteNonQueryAsync();
    }

    // A new process in the ended one's place (same instance: ports and data directory); returns its id.
    private async Task<string> RestartAsync(SiloProcess ended, Dictionary<string, SiloProcess> silos)
    {
        await ended.DisposeAsync();
        var restarted = await SiloProcess.StartAsync(_dataDir, ended.Instance, [.. _storeArguments, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture)]);
        _everyProcess.Add(restarted);
        silos[restarted.SiloId] = restarted;
        return restarted.SiloId;
    }

    // A fresh database whose paused sessions' open transactions the server ends (a paused silo would hold its locks otherwise).
    private async Task<string> PausableDatabaseAsync() =>
        new Npgsql.NpgsqlConnectionStringBuilder(await postgres!.CreateDatabaseAsync()) { Options = "-c idle_in_transaction_session_timeout=1000 " + PostgresServer.SynchronousCommitOption }.ConnectionString;

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a dying process: the temp directory is cleaned up later.
        }
    }
}

/// <summary>A schedule whose cluster did not recover within the harness' deadlines (unbounded unavailability, or a harness failure).</summary>
public sealed class NemesisHarnessException(string message, Exception inner) : Exception(message, inner);
