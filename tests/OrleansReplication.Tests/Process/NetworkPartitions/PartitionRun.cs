using System.Diagnostics;
using System.Globalization;
using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Testing.Processes.Network;
using OrleansReplication.Testing.Processes.Nemesis;
using OrleansReplication.Tests.Infrastructure;
using Xunit.Sdk;

namespace OrleansReplication.Tests.Processes.NetworkPartitions;

/// <summary>
/// One partition scenario's cluster and writers: three silos in the fixture's namespaces on a new
/// database, balanced; a membership watch; writers recording every outcome. The test cuts, then
/// heals and checks through it; disposing heals the network and stops everything.
/// </summary>
internal sealed class PartitionRun : IAsyncDisposable
{
    public const int Partitions = 8;
    public const int ProgressPerStep = 20;
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private const int Keys = 200;
    private const int Writers = 4;

    private readonly IsolatedNetwork _network;
    private readonly string _component;
    private readonly List<SiloProcess> _ended = [];
    private long _cutAt;
    private long _healedAt;

    private PartitionRun(IsolatedNetwork network, Dictionary<string, SiloProcess> silos, string component)
    {
        _network = network;
        _component = component;
        Silos = silos;
        Watch = MembershipWatch.Start(silos.Values);
        Workload = new HistoryWorkload(component, Keys);
    }

    public Dictionary<string, SiloProcess> Silos { get; }

    public MembershipWatch Watch { get; }

    public HistoryWorkload Workload { get; }

    /// <summary>When the cut began (a <see cref="Stopwatch"/> timestamp).</summary>
    public long CutAt => _cutAt;

    /// <summary>Time since <see cref="MarkCut"/>.</summary>
    public TimeSpan SinceCut => Stopwatch.GetElapsedTime(_cutAt);

    public static int HostOf(SiloProcess silo) => silo.Options.Network!.Index;

    /// <summary>Starts the silos (the i-th in the i-th namespace) and the writers; returns once every writer made progress.</summary>
    public static async Task<PartitionRun> StartAsync(NetworkPartitionFixture fixture, string dataDir, string component)
    {
        await fixture.Network.HealAsync();
        var options = new SiloLaunchOptions { DataDir = dataDir, Arguments = [.. await fixture.StoreArgumentsAsync(), "--partitions", Partitions.ToString(CultureInfo.InvariantCulture)] };
        var silos = await ProcessCluster.StartAsync(options, fixture.Network);
        var run = new PartitionRun(fixture.Network, silos, component);
        try
        {
            await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);
            await run.Workload.StartAsync(silos.Values, Writers);
            await run.Workload.WaitForProgressAsync(ProgressPerStep, "before the cut");
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits until every writer had <paramref name="more"/> more writes acknowledged; a timeout
    /// names each writer still waiting: its key, that key's partition and primary, and how many of
    /// its attempts in a row ended unknown.
    /// </summary>
    public async Task WaitForProgressAsync(int more, string after)
    {
        try
        {
            await Workload.WaitForProgressAsync(more, after);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Writers: {await DescribeWritersAsync()}", ex);
        }
    }

    private async Task<string> DescribeWritersAsync()
    {
        var map = (await Silos.Values.First(s => !s.HasExited).PartitionsAsync()).ToDictionary(p => p.GetProperty("id").GetInt32(), p => p.GetProperty("primary").GetString());
        var now = Stopwatch.GetTimestamp();
        return string.Join("; ", Workload.History.Snapshot().Where(o => o.Kind == OperationKind.Write).GroupBy(o => o.Process).Select(writer =>
        {
            var last = writer.Last();
            var unknown = writer.Reverse().TakeWhile(o => o.Outcome != OperationOutcome.Ok).Count(o => o.Outcome == OperationOutcome.Timeout);
            var lastAck = writer.LastOrDefault(o => o.Outcome == OperationOutcome.Ok);
            var partition = PartitionHasher.GetPartition(_component, last.Key, Partitions);
            var since = lastAck is null ? "never" : $"{Stopwatch.GetElapsedTime(lastAck.Completed, now).TotalSeconds:0.0} s ago";
            return $"writer {writer.Key}: last ack {since}, now on {last.Key} (partition {partition}, primary {map[partition]}) after {unknown} unknown outcomes in a row";
        }));
    }

    /// <summary>The silo leading the most partitions now.</summary>
    public async Task<SiloProcess> BusiestPrimaryAsync() => Silos[await ProcessCluster.BusiestPrimaryAsync(Silos.Values.First())];

    /// <summary>The cut begins now: what is measured is measured from here.</summary>
    public void MarkCut() => _cutAt = Stopwatch.GetTimestamp();

    /// <summary>Waits until the cut has been in place for <paramref name="held"/>.</summary>
    public Task HoldCutAsync(TimeSpan held) => Wait.UntilAsync(() => SinceCut >= held, held + TimeSpan.FromSeconds(5), $"{held.TotalSeconds:0} s of the cut");

    /// <summary>
    /// Holds the cut for <paramref name="held"/> while the writers must go on: returns how long until
    /// every writer was acknowledged again, or, instead of throwing, what stalled (so that the heal
    /// and the history check still run and the test reports everything).
    /// </summary>
    public async Task<(TimeSpan Resumed, string? Stalled)> HoldCutWatchingWritersAsync(TimeSpan held, string cut)
    {
        try
        {
            await WaitForProgressAsync(1, $"after {cut}");
            var resumed = SinceCut;
            await HoldCutAsync(held);
            await WaitForProgressAsync(ProgressPerStep, $"with {cut} still in place");
            return (resumed, null);
        }
        catch (TimeoutException ex)
        {
            return (SinceCut, ex.Message);
        }
    }

    /// <summary>
    /// Heals the network, starts again (same namespace, instance, store) each silo that stopped, and
    /// waits for the cluster to settle and every writer to make progress; returns the writers'
    /// longest stall and unknown outcomes while cut.
    /// </summary>
    private async Task<(TimeSpan LongestStall, int Unknown)> HealAndSettleAsync()
    {
        _healedAt = Stopwatch.GetTimestamp();
        await _network.HealAsync();
        var stalls = (Workload.LongestStall(_cutAt, _healedAt), Workload.UnknownWrites(_cutAt, _healedAt));

        // A silo declared dead that could not read so (cut from the store) learns it now and stops.
        await Wait.UntilAsync(() => Silos.Values.Where(s => Watch.IsDead(s.SiloId)).All(s => s.HasExited), Deadline, "every silo declared dead to stop once healed");
        foreach (var (id, silo) in Silos.Where(s => s.Value.HasExited).ToList())
        {
            // The same instance and address, but a new incarnation: a new id (its generation differs).
            _ended.Add(silo);
            Silos.Remove(id);
            var restarted = await silo.RestartAsync();
            Silos[restarted.SiloId] = restarted;
            Watch.Add(restarted);
        }

        await BalancedCluster.WaitAsync(Silos, Partitions, lagZero: false);
        await Workload.WaitForProgressAsync(ProgressPerStep, "after healing");
        return stalls;
    }

    /// <summary>Time from healing until the cluster settled and every writer made progress.</summary>
    private TimeSpan SinceHealed => Stopwatch.GetElapsedTime(_healedAt);

    /// <summary>
    /// Notes who was declared dead and who stopped, heals and settles (<see cref="HealAndSettleAsync"/>),
    /// then stops the writers, reads every key back and checks the history.
    /// </summary>
    public async Task<PartitionOutcome> HealAndCheckAsync()
    {
        var dead = Watch.Describe(_cutAt);
        var exited = string.Join(", ", Silos.Values.Where(s => s.HasExited).Select(s => s.SiloId));
        var (stall, unknown) = await HealAndSettleAsync();
        var settled = SinceHealed;
        var report = await Workload.StopAndCheckAsync(Silos.Values.First(s => !s.HasExited));
        return new PartitionOutcome(dead, exited.Length == 0 ? "none" : exited, stall, unknown, settled, report);
    }

    /// <summary>
    /// Runs <paramref name="scenario"/>; on a failure every silo's whole log (those replaced too) is
    /// saved to a temp folder the message names, and an error that is not an assertion gets their tails.
    /// </summary>
    public async Task GuardAsync(Func<Task> scenario)
    {
        try
        {
            await scenario();
        }
        catch (Exception ex)
        {
            var saved = await SaveLogsAsync();
            throw ex is XunitException
                ? new XunitException($"{ex.Message}{Environment.NewLine}Whole silo logs: {saved}", ex)
                : new InvalidOperationException($"{ex.Message}{Environment.NewLine}Whole silo logs: {saved}{Logs()}", ex);
        }
    }

    /// <summary>Every silo's errors and log tail, the replaced processes' first.</summary>
    public string Logs() => ProcessCluster.Logs(new Dictionary<string, SiloProcess>(_ended.Select((s, i) => KeyValuePair.Create($"{s.SiloId} (ended {i})", s)).Concat(Silos)));

    private async Task<string> SaveLogsAsync()
    {
        var folder = Directory.CreateTempSubdirectory("or-netns-logs-").FullName;
        foreach (var (silo, i) in _ended.Concat(Silos.Values).Select((s, i) => (s, i)))
        {
            await File.WriteAllTextAsync(Path.Combine(folder, $"{i}-{silo.Options.Network!.Namespace}.log"), $"{silo.CommandLine}{Environment.NewLine}{silo.StandardOutput}{Environment.NewLine}--- stderr ---{Environment.NewLine}{silo.StandardError}");
        }

        return folder;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _network.HealAsync();
            await Workload.DisposeAsync();
            await Watch.DisposeAsync();
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(Silos.Values.Concat(_ended));
        }
    }
}

/// <summary>What a partition scenario did, for its report line.</summary>
internal sealed record PartitionOutcome(string Dead, string Exited, TimeSpan LongestStall, int Unknown, TimeSpan Settled, HistoryReport Report)
{
    public override string ToString() =>
        $"declared dead: {Dead}; exited: {Exited}; longest writer stall while cut {LongestStall.TotalMilliseconds:0} ms, {Unknown} unknown outcomes; healed, restarted and settled in {Settled.TotalMilliseconds:0} ms. {Report}";
}
