using System.Text.Json;
using OrleansReplication.Client;

namespace OrleansReplication.Bench.Cluster;

/// <summary>Silo processes sharing one store (the SQLite file in one data directory, or PostgreSQL), started for one workload and killed after it.</summary>
internal sealed class SiloCluster : IAsyncDisposable
{
    private readonly string _dataDir;
    private readonly string[] _arguments;
    private readonly Dictionary<string, string> _environment;

    private SiloCluster(string dataDir, string[] arguments, Dictionary<string, string> environment)
    {
        _dataDir = dataDir;
        _arguments = arguments;
        _environment = environment;
    }

    public List<BenchSilo> Silos { get; } = [];

    public int Partitions { get; private set; }

    public int ReplicationFactor { get; private set; }

    public static async Task<SiloCluster> StartAsync(BenchSettings settings, int silos, int replicationFactor = 2, int partitions = 16)
    {
        var dataDir = Directory.CreateTempSubdirectory("or-bench-").FullName;
        var arguments = new List<string> { "--partitions", partitions.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (settings.Postgres is { } postgres)
        {
            var database = await postgres.CreateDatabaseAsync();
            arguments.AddRange(["--storage", "postgres", "--connection-string", database]);
        }

        var environment = new Dictionary<string, string>(settings.SiloEnvironment) { ["Silo__Placement__ReplicationFactor"] = replicationFactor.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var cluster = new SiloCluster(dataDir, [.. arguments], environment) { Partitions = partitions, ReplicationFactor = replicationFactor };
        try
        {
            for (var i = 0; i < silos; i++)
            {
                await cluster.AddSiloAsync();
            }

            await cluster.WaitReplicatedAsync(lagZero: false, TimeSpan.FromSeconds(120));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async Task<BenchSilo> AddSiloAsync()
    {
        var silo = await BenchSilo.StartAsync(_dataDir, _arguments, _environment);
        Silos.Add(silo);
        return silo;
    }

    public IList<string> Gateways => [.. Silos.Where(s => !s.HasExited).Select(s => s.Gateway)];

    public Task<ReplicationClient> ConnectAsync(TimeSpan? requestTimeout = null) => ReplicationClient.ConnectAsync(new ReplicationClientOptions
    {
        Gateways = Gateways,
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(30),
    });

    /// <summary>The live silo leading the most partitions.</summary>
    public async Task<BenchSilo> BusiestPrimaryAsync()
    {
        var live = Silos.Where(s => !s.HasExited).ToList();
        var rows = await live[0].PartitionsAsync();
        var leader = rows.GroupBy(r => r.GetProperty("primary").GetString()).OrderByDescending(g => g.Count()).First().Key;
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
    public async Task<bool> WaitCarriesPartitionsAsync(BenchSilo silo, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            try
            {
                var rows = await silo.PartitionsAsync();
                if (rows.Any(r => r.GetProperty("primary").GetString() == silo.SiloId
                    || r.GetProperty("standbys").EnumerateArray().Any(s => s.GetProperty("silo").GetString() == silo.SiloId)))
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
        foreach (var silo in Silos)
        {
            await silo.DisposeAsync();
        }

        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }
    }

    private async Task<bool> IsReplicatedAsync(bool lagZero)
    {
        var live = Silos.Where(s => !s.HasExited).ToDictionary(s => s.SiloId!);
        var wantStandbys = Math.Min(ReplicationFactor, live.Count) - 1;
        var map = await live.Values.First().PartitionsAsync();
        if (map.Count != Partitions)
        {
            return false;
        }

        foreach (var group in map.GroupBy(r => r.GetProperty("primary").GetString() ?? string.Empty))
        {
            if (!live.TryGetValue(group.Key, out var primary))
            {
                return false;
            }

            var seen = (await primary.PartitionsAsync()).ToDictionary(p => p.GetProperty("id").GetInt32());
            foreach (var row in group)
            {
                var view = seen[row.GetProperty("id").GetInt32()];
                if (view.GetProperty("primary").GetString() != group.Key)
                {
                    return false;
                }

                var standbys = view.GetProperty("standbys").EnumerateArray()
                    .Where(s => s.GetProperty("inSync").ValueKind == JsonValueKind.True && live.ContainsKey(s.GetProperty("silo").GetString()!))
                    .Where(s => !lagZero || s.GetProperty("appliedSequence").GetInt64() == view.GetProperty("lastSequence").GetInt64())
                    .Count();
                if (standbys < wantStandbys)
                {
                    return false;
                }
            }
        }

        return true;
    }
}
