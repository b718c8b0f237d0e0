using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// Several in-process silos sharing one store, shaped like Orleans' <c>TestCluster</c>: start,
/// add, stop, kill and restart silos, wait for liveness to stabilize, and a connected client.
/// Membership timings are tuned down so deaths are noticed in about a second.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private static readonly TimeSpan DefaultStabilizeTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _dataDir = new("or-cluster-");
    private readonly Dictionary<string, string?> _settings;
    private readonly List<InProcessSilo> _silos = [];
    private int _nextSilo;

    private TestCluster(IReadOnlyDictionary<string, string?>? settings)
    {
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Silo:PartitionCount"] = "16",
            // Orleans' membership with the silo's tuned timings; the table is re-read often so a
            // silo that joined is seen quickly by all.
            ["Silo:Membership:TableRefreshTimeout"] = "00:00:00.500",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    /// <summary>The silos started and not stopped or killed.</summary>
    public IReadOnlyList<InProcessSilo> Silos => [.. _silos.Where(s => !s.IsStopped)];

    /// <summary>A client connected to the gateways of the initial silos.</summary>
    public ReplicationClient Client { get; private set; } = null!;

    /// <summary>The shared data directory (the store every silo uses).</summary>
    public string DataDir => _dataDir.Path;

    /// <summary>Starts <paramref name="initialSilos"/> silos and a client, and waits for liveness to stabilize.</summary>
    public static async Task<TestCluster> StartAsync(int initialSilos = 3, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var cluster = new TestCluster(settings);
        try
        {
            for (var i = 0; i < initialSilos; i++)
            {
                await cluster.StartAdditionalSiloAsync();
            }

            cluster.Client = await ReplicationClient.ConnectAsync(new ReplicationClientOptions
            {
                Gateways = [.. cluster._silos.Select(s => s.GatewayEndPoint.ToString())],
            });
            await cluster.WaitForLivenessToStabilizeAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more silo (id <c>silo{n}</c>) on the shared store.</summary>
    public async Task<InProcessSilo> StartAdditionalSiloAsync()
    {
        var settings = new Dictionary<string, string?>(_settings, StringComparer.OrdinalIgnoreCase)
        {
            ["Silo:SiloId"] = "silo" + _nextSilo++.ToString(CultureInfo.InvariantCulture),
        };
        var silo = await InProcessSilo.StartAsync(_dataDir.Path, settings);
        _silos.Add(silo);
        return silo;
    }

    /// <summary>Stops a silo gracefully: it finishes queued writes and leaves the membership table.</summary>
    public Task StopSiloAsync(InProcessSilo silo) => silo.StopAsync();

    /// <summary>Ends a silo as a crash would: peers must detect its death.</summary>
    public Task KillSiloAsync(InProcessSilo silo) => silo.KillAsync();

    /// <summary>Stops a silo and starts it again with the same id and ports: a new incarnation.</summary>
    public async Task<InProcessSilo> RestartSiloAsync(InProcessSilo silo)
    {
        var id = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("name").GetString();
        await silo.StopAsync();
        var settings = new Dictionary<string, string?>(_settings, StringComparer.OrdinalIgnoreCase)
        {
            ["Silo:SiloId"] = id,
            ["Silo:HttpPort"] = silo.HttpPort.ToString(CultureInfo.InvariantCulture),
            ["Silo:GatewayPort"] = silo.GatewayEndPoint.Port.ToString(CultureInfo.InvariantCulture),
            ["Silo:SiloPort"] = silo.SiloEndPoint.Port.ToString(CultureInfo.InvariantCulture),
        };
        var restarted = await InProcessSilo.StartAsync(_dataDir.Path, settings);
        _silos.Add(restarted);
        return restarted;
    }

    /// <summary>
    /// Waits until every running silo sees exactly the running silo incarnations as active, as
    /// Orleans' method of the same name does. (Which silo leads which partition is a separate
    /// question: promotion of standbys comes with failover.)
    /// </summary>
    public async Task WaitForLivenessToStabilizeAsync(TimeSpan? timeout = null)
    {
        var running = Silos;
        var expected = new HashSet<string>();
        foreach (var silo in running)
        {
            expected.Add((await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!);
        }

        await Wait.UntilAsync(
            async () =>
            {
                foreach (var silo in running)
                {
                    var active = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()
                        .Where(s => s.GetProperty("status").GetString() == "active")
                        .Select(s => s.GetProperty("id").GetString()!);
                    if (!expected.SetEquals(active))
                    {
                        return false;
                    }
                }

                return true;
            },
            timeout ?? DefaultStabilizeTimeout,
            $"all {running.Count} running silos to see exactly [{string.Join(", ", expected)}] as active");
    }

    /// <summary>
    /// Waits until replication is settled: every partition is led by a running silo, no silo leads
    /// more than its share (primaries are handed off gradually), and every partition's standbys
    /// are in sync as seen by its own primary (only the primary knows).
    /// </summary>
    public async Task WaitForReplicationToStabilizeAsync(TimeSpan? timeout = null)
    {
        var running = Silos;
        var reason = "nothing observed yet";
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    var byId = await RunningByIdAsync();
                    var partitions = await PartitionsAsync(running[0]);
                    var share = (int)Math.Ceiling((double)partitions.Count / byId.Count);
                    reason = await PartitionViews.FirstUnsettledAsync(byId.ToDictionary(s => s.Key, s => s.Value.Http), partitions, share, (_, view) =>
                    {
                        var standbys = PartitionViews.Standbys(view);
                        return (byId.Count == 1 || standbys.Count > 0) && standbys.All(PartitionViews.InSync);
                    }) ?? string.Empty;
                    return reason.Length == 0;
                },
                timeout ?? DefaultStabilizeTimeout,
                $"every partition to be led by one of the {running.Count} running silos, primaries balanced, and all standbys in sync");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Last seen: {reason}", ex);
        }
    }

    /// <summary>The running silo that leads <paramref name="partition"/>, and the running silos holding its standbys.</summary>
    public async Task<(InProcessSilo Primary, IReadOnlyList<InProcessSilo> Standbys)> ReplicasOfAsync(int partition)
    {
        var byId = await RunningByIdAsync();
        var row = (await PartitionsAsync(Silos[0])).Single(p => p.GetProperty("id").GetInt32() == partition);
        var standbys = row.GetProperty("standbys").EnumerateArray().Select(s => s.GetProperty("silo").GetString()!).Where(byId.ContainsKey).Select(id => byId[id]).ToList();
        return (byId[row.GetProperty("primary").GetString()!], standbys);
    }

    private async Task<Dictionary<string, InProcessSilo>> RunningByIdAsync()
    {
        var byId = new Dictionary<string, InProcessSilo>();
        foreach (var silo in Silos)
        {
            byId[await PartitionViews.IdAsync(silo.Http)] = silo;
        }

        return byId;
    }

    private static Task<List<JsonElement>> PartitionsAsync(InProcessSilo silo) => PartitionViews.PartitionsAsync(silo.Http);

    public async ValueTask DisposeAsync()
    {
        if (Client is not null)
        {
            await Client.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.StopAsync();
        }

        _dataDir.Dispose();
    }
}
