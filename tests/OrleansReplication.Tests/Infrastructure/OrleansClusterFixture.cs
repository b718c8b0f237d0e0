namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// One 3-silo <see cref="ReplicationCluster"/> shared by every test of the <see cref="SharedClusterCollection"/>:
/// for tests that use the grain, client and HTTP APIs and leave the cluster as they found it (no
/// silo stopped, added, drained or crashed). Each test uses its own component names.
/// </summary>
public sealed class OrleansClusterFixture : IAsyncLifetime
{
    // Generous: the machine running the tests may be loaded well beyond its cores.
    private static readonly TimeSpan Stabilize = TimeSpan.FromSeconds(90);

    private ReplicationCluster? _cluster;

    /// <summary>The shared cluster: every silo sees the three active, and replication settled.</summary>
    public ReplicationCluster Cluster => _cluster ?? throw new InvalidOperationException("The shared cluster is not started.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        // A zone other than the default, so that tests see the silos' placement attributes published.
        _cluster = await ReplicationCluster.StartAsync(3, new Dictionary<string, string?> { ["Silo:Membership:Zone"] = "zone-a" });
        await _cluster.WaitForLivenessToStabilizeAsync(Stabilize);
        await _cluster.WaitForReplicationToStabilizeAsync(Stabilize);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
