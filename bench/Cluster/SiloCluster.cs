using System.Globalization;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Cluster;

/// <summary>Silo processes sharing one store (the SQLite file in one data directory, or PostgreSQL), started for one workload and killed after it.</summary>
internal sealed class SiloCluster : IAsyncDisposable
{
    // Silos start slower on a machine busy with the previous workload's clean-up; a long run keeps only the tail of their output.
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(90);
    private const int OutputLimit = 64 * 1024;

    private readonly SiloLaunchOptions _options;

    private SiloCluster(SiloLaunchOptions options)
    {
        _options = options;
    }

    public List<SiloProcess> Silos { get; } = [];

    public int Partitions { get; private set; }

    public int ReplicationFactor { get; private set; }

    public static async Task<SiloCluster> StartAsync(BenchSettings settings, int silos, int replicationFactor = 2, int partitions = 16, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dataDir = Directory.CreateTempSubdirectory("or-bench-").FullName;
        var arguments = new List<string> { "--partitions", partitions.ToString(CultureInfo.InvariantCulture) };
        if (settings.Postgres is { } postgres)
        {
            var database = await postgres.CreateDatabaseAsync();
            arguments.AddRange(["--storage", "postgres", "--connection-string", database]);
        }

        // Benchmarks measure the data path, not console logging (unless the settings' environment says otherwise).
        var all = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" };
        foreach (var (name, value) in settings.SiloEnvironment.Concat(environment ?? new Dictionary<string, string>()))
        {
            all[name] = value;
        }

        all["Silo__Placement__ReplicationFactor"] = replicationFactor.ToString(CultureInfo.InvariantCulture);
        var options = new SiloLaunchOptions { DataDir = dataDir, Arguments = arguments, Environment = all, ReadyDeadline = ReadyDeadline, OutputLimit = OutputLimit };
        var cluster = new SiloCluster(options) { Partitions = partitions, ReplicationFactor = replicationFactor };
        try
        {
            cluster.Silos.AddRange((await ProcessCluster.StartAsync(options, silos)).Values);
            await cluster.WaitReplicatedAsync(lagZero: false, TimeSpan.FromSeconds(120));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async Task<SiloProcess> AddSiloAsync()
    {
        var silo = await SiloProcess.StartAsync(_options);
        Silos.Add(silo);
        return silo;
    }

    /// <summary>Connects <paramref name="count"/> clients to every live silo's gateway; the caller disposes them.</summary>
    public Task<List<ReplicationClient>> ConnectClientsAsync(int count, TimeSpan? requestTimeout = null) =>
        ProcessCluster.ConnectClientsAsync(LiveSilos(), count, requestTimeout ?? TimeSpan.FromSeconds(30));

    public async Task<ReplicationClient> ConnectAsync(TimeSpan? requestTimeout = null) => (await ConnectClientsAsync(1, requestTimeout))[0];

    /// <summary>The live silo leading the most partitions.</summary>
    public async Task<SiloProcess> BusiestPrimaryAsync()
    {
        var live = LiveSilos();
        var leader = await ProcessCluster.BusiestPrimaryAsync(live[0]);
        return live.Single(s => s.SiloId == leader);
    }

    /// <summary>
    /// Waits until every partition is led by a live silo with min(RF, live) - 1 in-sync standbys
    /// on other live silos; with <paramref name="lagZero"/> also at the primary's last sequence.
    /// Returns false at the deadline.
    /// </summary>
    public async Task<bool> WaitReplicatedAsync(bool lagZero, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (await IsReplicatedAsync(lagZero))
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // A silo is starting or stopping; ask again.
            }

            await Task.Delay(100, cancellationToken);
        }

        return false;
    }

    /// <summary>Waits until <paramref name="silo"/> is primary or standby of some partition (a restarted silo took its share again); false at the deadline.</summary>
    public async Task<bool> WaitCarriesPartitionsAsync(SiloProcess silo, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            try
            {
                var rows = await silo.PartitionsAsync();
                if (rows.Any(r => r.GetProperty("primary").GetString() == silo.SiloId || PartitionViews.Standbys(r).Any(s => PartitionViews.SiloOf(s) == silo.SiloId)))
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                // Starting; ask again.
            }

            await Task.Delay(100);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await ProcessCluster.DisposeAllAsync(Silos);
        try
        {
            Directory.Delete(_options.DataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }
    }

    private List<SiloProcess> LiveSilos() => [.. Silos.Where(s => !s.HasExited)];

    // Every partition listed, led by a live silo, and with enough in-sync standbys on live silos as its primary sees it.
    private async Task<bool> IsReplicatedAsync(bool lagZero)
    {
        var live = ProcessCluster.HttpById(LiveSilos());
        var wantStandbys = Math.Min(ReplicationFactor, live.Count) - 1;
        var map = await PartitionViews.PartitionsAsync(live.Values.First());
        return map.Count == Partitions && await PartitionViews.FirstUnsettledAsync(live, map, int.MaxValue, (_, view) => PartitionViews.Standbys(view)
            .Count(s => PartitionViews.InSync(s) && live.ContainsKey(PartitionViews.SiloOf(s)) && (!lagZero || PartitionViews.AtLastSequence(s, view))) >= wantStandbys) is null;
    }
}
