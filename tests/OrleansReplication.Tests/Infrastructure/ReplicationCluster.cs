using System.Net;
using Orleans;
using Orleans.TestingHost;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;
using OrleansTestCluster = Orleans.TestingHost.TestCluster;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// Orleans' <see cref="OrleansTestCluster"/> (Microsoft.Orleans.TestingHost) whose silos are ours
/// (<see cref="ReplicationSiloConfigurator"/>) on one SQLite store in a temp directory, with
/// membership tuned down so deaths are noticed in about a second, and a client configured as an
/// application would (<see cref="ReplicationClientConfigurator"/>). Silos are added, stopped and
/// restarted gracefully through Orleans; a crash needs a real process (<see cref="StartSiloProcessAsync"/>).
/// </summary>
public sealed partial class ReplicationCluster : IAsyncDisposable
{
    /// <summary>The partition count of every test cluster: small, so silos start fast.</summary>
    public const int PartitionCount = 16;

    // Start, join and the client's first gateway refresh take seconds; a loaded 2-core machine ten times that.
    private static readonly TimeSpan DeployDeadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan CrashTestStabilize = TimeSpan.FromSeconds(90);

    private readonly TempDirectory _dataDir;
    private readonly Dictionary<string, string?> _settings;
    private readonly Dictionary<SiloHandle, ClusterSilo> _silos = [];
    private readonly List<SiloProcess> _processes = [];

    private ReplicationCluster(OrleansTestCluster orleans, TempDirectory dataDir, Dictionary<string, string?> settings)
    {
        Orleans = orleans;
        _dataDir = dataDir;
        _settings = settings;
    }

    /// <summary>Orleans' test cluster underneath.</summary>
    public OrleansTestCluster Orleans { get; }

    /// <summary>The running silos of the test cluster, in start order (silo processes aside).</summary>
    public IReadOnlyList<ClusterSilo> Silos => [.. Orleans.Silos.Cast<InProcessSiloHandle>().Select(Wrap)];

    /// <summary>The test cluster's client, with <c>AddStateReplication()</c>.</summary>
    public IClusterClient Client => Orleans.Client;

    /// <summary>The silo processes started on this cluster's store, in start order (killed ones too).</summary>
    public IReadOnlyList<SiloProcess> SiloProcesses
    {
        get
        {
            lock (_processes)
            {
                return [.. _processes];
            }
        }
    }

    /// <summary>The shared data directory (the store every silo uses, and the membership table in it).</summary>
    public string DataDir => _dataDir.Path;

    /// <summary>
    /// Options of a <see cref="ReplicationClient"/> for this cluster (its ids), on <paramref name="gateways"/>
    /// (none: every running silo's), for tests of what that client adds to an Orleans client.
    /// </summary>
    public ReplicationClientOptions ClientOptionsFor(params IPEndPoint[] gateways) => new()
    {
        Gateways = [.. (gateways.Length > 0 ? gateways : Silos.Select(s => s.GatewayEndPoint)).Select(g => g.ToString())],
        ClusterId = Orleans.Options.ClusterId,
        ServiceId = Orleans.Options.ServiceId,
        RequestTimeout = ReplicationClientConfigurator.RequestTimeout,
    };

    /// <summary>
    /// Deploys <paramref name="silos"/> silos and the client, and meanwhile starts
    /// <paramref name="siloProcesses"/> silo processes that join them (<see cref="StartSiloProcessAsync"/>).
    /// <paramref name="settings"/> (keys like <c>Silo:Membership:ProbeTimeout</c>) go to every silo, processes included.
    /// </summary>
    public static async Task<ReplicationCluster> StartAsync(short silos, IReadOnlyDictionary<string, string?>? settings = null, int siloProcesses = 0)
    {
        var dataDir = new TempDirectory("or-cluster-");
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Silo:DataDir"] = dataDir.Path,
            ["Silo:PartitionCount"] = PartitionCount.ToString(System.Globalization.CultureInfo.InvariantCulture),

            // The silo's tuned membership, with the table re-read often so a silo that joined is seen quickly by all.
            ["Silo:Membership:TableRefreshTimeout"] = "00:00:00.500",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var cluster = new ReplicationCluster(Build(silos, all), dataDir, all);
        try
        {
            var deployed = Wait.ForAsync(cluster.Orleans.DeployAsync(), DeployDeadline, $"{silos} silos and the client to start");
            await Task.WhenAll(Enumerable.Range(0, siloProcesses).Select(_ => cluster.StartSiloProcessAsync()).Append(deployed));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The cluster of a crash test: two silos of the test cluster and a real silo process (the
    /// first of <see cref="SiloProcesses"/>), which the test kills; returns once replication
    /// settled over the three, so that the process leads its share of the partitions.
    /// </summary>
    public static async Task<ReplicationCluster> StartWithSiloProcessAsync()
    {
        var cluster = await StartAsync(2, siloProcesses: 1);
        try
        {
            await cluster.WaitForReplicationToStabilizeAsync(CrashTestStabilize);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more silo in the test cluster.</summary>
    public async Task<ClusterSilo> StartAdditionalSiloAsync() => Wrap((InProcessSiloHandle)await Orleans.StartAdditionalSiloAsync());

    /// <summary>Stops a silo gracefully: it drains, finishes queued writes and leaves the membership table.</summary>
    public async Task StopSiloAsync(ClusterSilo silo)
    {
        await Orleans.StopSiloAsync(silo.Handle);
        silo.Dispose();
    }

    /// <summary>Stops a silo and starts it again with the same name and ports: a new incarnation.</summary>
    public async Task<ClusterSilo> RestartSiloAsync(ClusterSilo silo)
    {
        var restarted = await Orleans.RestartSiloAsync(silo.Handle) ?? throw new InvalidOperationException($"Orleans did not restart {silo}.");
        silo.Dispose();
        return Wrap((InProcessSiloHandle)restarted);
    }

    /// <summary>
    /// Starts a real silo process that joins this cluster (its store, ids and settings): the silo a
    /// test crashes, with SIGKILL (<see cref="SiloProcess.KillAsync"/>) or SIGSTOP. Orleans'
    /// <c>KillSiloAsync</c> is no crash: it stops the silo in this process, gracefully under the hood.
    /// </summary>
    public async Task<SiloProcess> StartSiloProcessAsync()
    {
        var environment = _settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        environment["Silo__ClusterId"] = Orleans.Options.ClusterId;
        environment["Silo__ServiceId"] = Orleans.Options.ServiceId;
        var process = await SiloProcess.StartAsync(new SiloLaunchOptions { DataDir = DataDir, Environment = environment });
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var process in SiloProcesses)
        {
            await process.DisposeAsync();
        }

        await Orleans.StopAllSilosAsync();
        await Orleans.DisposeAsync();
        foreach (var silo in _silos.Values)
        {
            silo.Dispose();
        }

        _dataDir.Dispose();
    }

    private static OrleansTestCluster Build(short silos, Dictionary<string, string?> settings)
    {
        var builder = new TestClusterBuilder(silos);

        // Membership in the SQLite table, as our silos keep it, not the test cluster's in-memory one.
        builder.Options.UseTestClusterMembership = false;

        // Real sockets: silo processes and outside clients join, and a refused silo port is evidence of a crash.
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Options.ConfigureFileLogging = false;

        // Orleans' test silos swap in its experimental distributed grain directory; ours run with the default one.
        builder.Options.SiloBuilderConfiguratorTypes.RemoveAll(type => type?.Contains("ConfigureDistributedGrainDirectory", StringComparison.Ordinal) == true);
        foreach (var (key, value) in settings)
        {
            builder.Properties[key] = value;
        }

        builder.AddSiloBuilderConfigurator<ReplicationSiloConfigurator>();
        builder.AddClientBuilderConfigurator<ReplicationClientConfigurator>();
        return builder.Build();
    }

    private ClusterSilo Wrap(InProcessSiloHandle handle)
    {
        lock (_silos)
        {
            if (!_silos.TryGetValue(handle, out var silo))
            {
                silo = new ClusterSilo(handle);
                _silos[handle] = silo;
            }

            return silo;
        }
    }
}
