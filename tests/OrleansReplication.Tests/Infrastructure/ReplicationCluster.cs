using System.Net;
using Orleans;
using Orleans.TestingHost;
using OrleansReplication.Client;
using OrleansReplication.Silo.Hosting;
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

    // Generous too: the machine running the tests may be loaded well beyond its cores.
    private static readonly TimeSpan CrashTestStabilize = TimeSpan.FromSeconds(90);

    // A free HTTP port (ReplicationSiloConfigurator) can be taken by another process before Kestrel
    // binds it; a few fresh starts make that race practically impossible to lose.
    private const int StartAttempts = 3;

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
        for (var attempt = 1; ; attempt++)
        {
            var cluster = Create(silos, settings);
            try
            {
                var deployed = Wait.ForAsync(cluster.Orleans.DeployAsync(), DeployDeadline, $"{silos} silos and the client to start");
                await Task.WhenAll(Enumerable.Range(0, siloProcesses).Select(_ => cluster.StartSiloProcessAsync()).Append(deployed));
                return cluster;
            }
            catch (Exception ex) when (attempt < StartAttempts && PortCheck.IsAddressInUse(ex))
            {
                await cluster.DisposeAsync();
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
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
