using Orleans.TestingHost;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>Changes of the cluster: silos added, stopped and restarted through Orleans, and silo processes that join (to crash).</summary>
public sealed partial class ReplicationCluster
{
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
}
