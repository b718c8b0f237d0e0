using System.Diagnostics;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Listeners;
using Xunit.Abstractions;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Issue 4's scenarios with real silo processes on one store: SIGKILL of the busiest primary,
/// SIGSTOP of a primary for 5 s, and a rolling restart (SIGTERM) of every silo, each under a
/// writer at <c>applied</c> that records every acknowledged write; afterwards every acknowledged
/// write must be readable at its version or later. The failover window is printed, not asserted
/// (the benchmark reports it): the assertions are about correctness, with generous deadlines.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class FailoverProcessTests(ITestOutputHelper output, PostgresServerFixture postgres) : IDisposable, IClassFixture<PostgresServerFixture>
{
    private const int Partitions = 8;
    private const int Keys = 10_000;
    private const int Workers = 8;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dataDir = new("or-proc-failover-");

    public void Dispose() => _dataDir.Dispose();

    // Our own log entries at those levels ("14:55:40.557 warn: OrleansReplication...[id] message", as ProcessCluster.Logs reads them).
    private static List<string> OurLines(SiloProcess silo, params string[] levels) =>
        [.. silo.StandardOutput.Split('\n').Where(l => levels.Any(level => l.Contains($" {level}: OrleansReplication.", StringComparison.Ordinal)))];

    [Fact]
    public async Task SigkillOfBusiestPrimary_WritesResumeOnEveryPartition_NoAcknowledgedWriteLost()
    {
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, Partitions);
        try
        {
            // All is well: the silos said they started, and little else (balancing at start moves
            // partitions between them at Debug).
            foreach (var silo in silos.Values)
            {
                Assert.True(OurLines(silo, "warn", "fail", "crit").Count == 0, $"Silo {silo.SiloId} warned while all was well:{Environment.NewLine}{string.Join(Environment.NewLine, OurLines(silo, "warn", "fail", "crit"))}");
                Assert.True(OurLines(silo, "info").Count <= 12, $"Silo {silo.SiloId} is not quiet at start:{Environment.NewLine}{string.Join(Environment.NewLine, OurLines(silo, "info"))}");
            }

            await using var writer = new AcknowledgedWriter(silos.Values, Keys, Partitions);
            writer.Start(Workers);
            await Wait.UntilAsync(() => writer.Acks.Count >= 500, Deadline, "the writer to get 500 writes acknowledged");

            var victimId = await ProcessCluster.BusiestPrimaryAsync(silos.Values.First());
            var victim = silos[victimId];
            silos.Remove(victimId);
            var survivor = silos.Values.First();
            await using var events = await SseStream.OpenAsync(survivor.Http, "v1/cluster/events");

            var killedAt = Stopwatch.GetTimestamp();
            await victim.KillAsync();
            await writer.WaitForAcksOnEveryPartitionAsync(killedAt, Deadline, $"writes to be acknowledged again on every partition after the SIGKILL of {victimId}");
            output.WriteLine($"Writes acknowledged again on every partition {Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds:0} ms after the SIGKILL (under test load; the benchmark measures the window).");

            var acksAfterKill = writer.Acks.Count + 300;
            await Wait.UntilAsync(() => writer.Acks.Count >= acksAfterKill, Deadline, "300 more acknowledged writes after the failover");
            await writer.StopAsync();

            var lost = await writer.FindLostAsync(survivor);
            Assert.True(lost.Count == 0, $"{lost.Count} of the acknowledged writes were lost:{Environment.NewLine}{string.Join(Environment.NewLine, lost.Take(20))}");
            Assert.True(writer.Acks.Count > 800, $"Only {writer.Acks.Count} writes were acknowledged.");

            // The channel told the survivor's followers what happened.
            await WaitForEventAsync(events, e => e.Type == "silo-declared-dead" && e.Data.GetProperty("silo").GetString() == victimId, $"a silo-declared-dead event for {victimId}");
            await BalancedCluster.WaitAsync(silos, Partitions, lagZero: true);

            // The survivors said what happened, in a line per successor, not one per partition.
            var failedOver = silos.Values.SelectMany(s => OurLines(s, "warn")).Where(l => l.Contains("PartitionMapManager[1215]", StringComparison.Ordinal)).ToList();
            Assert.True(failedOver.Count is > 0 and <= 4, $"Expected the failover in at most a line per survivor and successor; got {failedOver.Count}:{Environment.NewLine}{string.Join(Environment.NewLine, failedOver)}");
            foreach (var survivorSilo in silos.Values)
            {
                var declared = OurLines(survivorSilo, "warn").Where(l => l.Contains("MembershipService[1502]", StringComparison.Ordinal)).ToList();
                Assert.True(declared.Count <= 1, $"Silo {survivorSilo.SiloId} said {victimId} died {declared.Count} times:{Environment.NewLine}{string.Join(Environment.NewLine, declared)}");

                // Its links to the dead standby: a warning for the first, not one per partition.
                var links = OurLines(survivorSilo, "warn").Where(l => (l.Contains("[1610]", StringComparison.Ordinal) || l.Contains("[1614]", StringComparison.Ordinal)) && l.Contains(victimId, StringComparison.Ordinal)).ToList();
                Assert.True(links.Count <= 3, $"Silo {survivorSilo.SiloId} warned {links.Count} times about its links to {victimId}:{Environment.NewLine}{string.Join(Environment.NewLine, links)}");
            }
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }

    [Fact]
    public async Task SigstopOfPrimaryForFiveSeconds_ItIsDeposedAndStops_NoAcknowledgedWriteLost()
    {
        // On PostgreSQL, as in production: a silo paused inside a store transaction would hold the
        // shared SQLite file's write lock and stall every silo until it resumes. The server ends a
        // paused client's open transaction (idle_in_transaction_session_timeout), releasing its locks.
        var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync()) { Options = "-c idle_in_transaction_session_timeout=1000" }.ConnectionString;
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, Partitions, "--storage", "postgres", "--connection-string", connectionString);
        SiloProcess? paused = null;
        try
        {
            await using var writer = new AcknowledgedWriter(silos.Values, Keys, Partitions);
            writer.Start(Workers);
            await Wait.UntilAsync(() => writer.Acks.Count >= 500, Deadline, "the writer to get 500 writes acknowledged");

            var pausedId = await ProcessCluster.BusiestPrimaryAsync(silos.Values.First());
            paused = silos[pausedId];
            silos.Remove(pausedId);
            var survivor = silos.Values.First();

            // A load balancer stops sending to a silo that fails its health checks; redirects may still lead there.
            writer.SetEntries(silos.Values);
            var pausedAt = Stopwatch.GetTimestamp();
            await paused.PauseAsync();
            await Wait.UntilAsync(async () => await ProcessCluster.StatusOfAsync(survivor, pausedId) == "dead", Deadline, $"the survivors to declare the paused silo {pausedId} dead");
            output.WriteLine($"Paused silo declared dead {Stopwatch.GetElapsedTime(pausedAt).TotalMilliseconds:0} ms after SIGSTOP.");
            await Wait.UntilAsync(() => Stopwatch.GetElapsedTime(pausedAt) >= TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), "5 s of pause");

            var resumedAt = Stopwatch.GetTimestamp();
            await paused.ResumeAsync();

            // Deposed: it learns it was declared dead at its first heartbeat and stops serving.
            await paused.WaitForExitAsync(Deadline);
            Assert.Contains("I have been told I am dead, so this silo will stop", paused.StandardOutput, StringComparison.Ordinal);

            await writer.WaitForAcksOnEveryPartitionAsync(resumedAt, Deadline, "writes to be acknowledged on every partition after the paused silo was deposed");
            await writer.StopAsync();
            var lost = await writer.FindLostAsync(survivor);
            Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes were lost (the deposed primary must not have acknowledged any):{Environment.NewLine}{string.Join(Environment.NewLine, lost.Take(20))}");
            await BalancedCluster.WaitAsync(silos, Partitions, lagZero: true);
        }
        finally
        {
            if (paused is { HasExited: false })
            {
                await paused.ResumeAsync();
                await paused.DisposeAsync();
            }

            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }

    [Fact]
    public async Task RollingRestartWithSigterm_EverySiloHandsOffFirst_NoFailedRequestAndNoLoss()
    {
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, Partitions);
        var stopped = new Dictionary<string, SiloProcess>();
        try
        {
            await using var writer = new AcknowledgedWriter(silos.Values, Keys, Partitions);
            writer.Start(Workers);
            await Wait.UntilAsync(() => writer.Acks.Count >= 300, Deadline, "the writer to get 300 writes acknowledged");

            foreach (var id in silos.Keys.ToList())
            {
                var silo = silos[id];
                silos.Remove(id);

                // Kubernetes takes a terminating pod out of the service's endpoints, then sends SIGTERM.
                writer.SetEntries(silos.Values);
                var exitCode = await silo.StopAsync();
                Assert.True(exitCode == 0, $"Silo {id} exited with {exitCode} after SIGTERM.{silo.Describe()}");
                Assert.True(silo.StandardOutput.Contains("drained before stopping: 0 partitions still led here", StringComparison.Ordinal), $"Silo {id} did not hand off every primary before it stopped.{silo.Describe()}");
                await silo.DisposeAsync();
                stopped["stopped " + id] = silo;

                var restarted = await SiloProcess.StartAsync(_dataDir.Path, silo.Instance, "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
                silos[restarted.SiloId] = restarted;
                await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);
                writer.SetEntries(silos.Values);
                var acks = writer.Acks.Count + 100;
                await Wait.UntilAsync(() => writer.Acks.Count >= acks, Deadline, "100 more acknowledged writes after the restart");
            }

            await writer.StopAsync();
            Assert.True(writer.Failed == 0, $"{writer.Failed} requests failed during the rolling restart:{Environment.NewLine}{writer.FailureSample}{ProcessCluster.Logs(silos)}{ProcessCluster.Logs(stopped)}");
            var lost = await writer.FindLostAsync(silos.Values.First());
            Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes were lost:{Environment.NewLine}{string.Join(Environment.NewLine, lost.Take(20))}");
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }

    private static async Task WaitForEventAsync(SseStream events, Func<SseEvent, bool> match, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Deadline)
        {
            var next = await events.ReadAsync() ?? throw new InvalidOperationException($"The cluster event stream ended before {what}.");
            if (match(next))
            {
                return;
            }
        }

        throw new TimeoutException($"No {what} within {Deadline.TotalSeconds:0} s.");
    }

}
