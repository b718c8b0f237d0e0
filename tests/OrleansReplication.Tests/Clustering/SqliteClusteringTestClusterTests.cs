using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansReplication.Clustering;
using OrleansReplication.Clustering.Sqlite;
using OrleansReplication.Tests.Infrastructure;
using OrleansTestCluster = Orleans.TestingHost.TestCluster;

namespace OrleansReplication.Tests.Clustering;

/// <summary>
/// Two real Orleans silos in this process (<see cref="OrleansTestCluster"/>) clustered through one
/// SQLite file, and an external Orleans client that finds their gateways in that file.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class SqliteClusteringTestClusterTests : IAsyncLifetime
{
    private const string ConnectionStringKey = "SqliteClusteringTest:ConnectionString";

    // Silo start, join and the client's first gateway refresh take a few seconds; a loaded 2-core CI
    // machine gets ten times that.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new("or-clustering-cluster-");
    private OrleansTestCluster? _cluster;

    private string ConnectionString => $"Data Source={Path.Combine(_directory.Path, "cluster.db")}";

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.InitializeClientOnDeploy = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Properties[ConnectionStringKey] = ConnectionString;
        builder.AddSiloBuilderConfigurator<SqliteSiloConfigurator>();
        _cluster = builder.Build();
        await Wait.ForAsync(_cluster.DeployAsync(), Deadline, "two silos to start on SQLite clustering");
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    [Fact]
    public async Task TwoSilos_ShareTheSqliteTable_BothActiveAndAnExternalClientCallsAGrain()
    {
        var cluster = _cluster!;
        var table = new SqliteMembershipTable(
            Options.Create(new SqliteClusteringOptions { ConnectionString = ConnectionString }),
            Options.Create(new ClusterOptions { ClusterId = cluster.Options.ClusterId, ServiceId = cluster.Options.ServiceId }),
            NullLogger<SqliteMembershipTable>.Instance);
        var silos = cluster.Silos.Select(silo => silo.SiloAddress).Order().ToList();
        Assert.Equal(2, silos.Count);

        await Wait.UntilAsync(
            async () => silos.SequenceEqual(await ActiveSilosAsync(table)),
            Deadline,
            "both silos to be Active in the SQLite membership table");

        using var client = new HostBuilder()
            .UseOrleansClient(clientBuilder =>
            {
                clientBuilder.Services.Configure<ClusterOptions>(options =>
                {
                    options.ClusterId = cluster.Options.ClusterId;
                    options.ServiceId = cluster.Options.ServiceId;
                });
                clientBuilder.UseSqliteClustering(options => options.ConnectionString = ConnectionString);
            })
            .Build();
        await Wait.ForAsync(client.StartAsync(), Deadline, "the external client to connect through the gateways in the SQLite table");

        var grain = client.Services.GetRequiredService<IClusterClient>().GetGrain<ITestEchoGrain>("clustering");
        Assert.Equal("hello", await Wait.ForAsync(grain.EchoAsync("hello"), Deadline, "the echo grain's answer"));
        await client.StopAsync();
    }

    private static async Task<List<SiloAddress>> ActiveSilosAsync(SqliteMembershipTable table) =>
        (await table.ReadAllAsync()).Members
            .Where(member => member.Item1.Status == SiloStatus.Active)
            .Select(member => member.Item1.SiloAddress)
            .Order()
            .ToList();

    /// <summary>Makes each test silo use the SQLite table of the file the test put in the cluster's configuration.</summary>
    public sealed class SqliteSiloConfigurator : ISiloConfigurator
    {
        /// <inheritdoc />
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connectionString = siloBuilder.Configuration[ConnectionStringKey]
                ?? throw new InvalidOperationException($"The test cluster's configuration has no '{ConnectionStringKey}'.");
            siloBuilder.UseSqliteClustering(options => options.ConnectionString = connectionString);
        }
    }
}
