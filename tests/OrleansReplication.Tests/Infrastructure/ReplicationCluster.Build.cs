using Orleans.TestingHost;
using OrleansTestCluster = Orleans.TestingHost.TestCluster;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>How the cluster is composed from Orleans' <see cref="TestClusterBuilder"/> and our silos' settings.</summary>
public sealed partial class ReplicationCluster
{
    private static ReplicationCluster Create(short silos, IReadOnlyDictionary<string, string?>? settings)
    {
        var dataDir = new TempDirectory("or-cluster-");
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Silo:DataDir"] = dataDir.Path,
            ["Silo:PartitionCount"] = PartitionCount.ToString(System.Globalization.CultureInfo.InvariantCulture),

            // The silo's tuned membership, with the table re-read often so a silo that joined is seen quickly by all.
            ["Silo:Membership:TableRefreshTimeout"] = "00:00:00.500",

            // Anti-entropy's store checks read whole partitions: tests that count store reads (a
            // failover must read none) would see them. ClusterAntiEntropyTests turns them on.
            ["Silo:Replication:AntiEntropy:StoreCheckInterval"] = "-00:00:00.001",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return new ReplicationCluster(Build(silos, all), dataDir, all);
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
}
