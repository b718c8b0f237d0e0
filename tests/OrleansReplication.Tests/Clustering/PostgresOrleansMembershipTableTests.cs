using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Runtime.Membership;
using Orleans.Runtime.MembershipService;
using OrleansReplication.Clustering;
using OrleansReplication.Clustering.Postgres;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Clustering;

/// <summary>
/// The membership table contract on Orleans' own ADO.NET table (invariant Npgsql) over our schema,
/// on a real PostgreSQL 15 server: a fresh database per test with the schema applied.
/// </summary>
public sealed class PostgresOrleansMembershipTableTests(PostgresServerFixture server) : OrleansMembershipTableContractTests, IClassFixture<PostgresServerFixture>
{
    private static readonly ServiceProvider Services = new ServiceCollection().BuildServiceProvider();
    private string _connectionString = string.Empty;

    /// <inheritdoc />
    public override async Task InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        await PostgresClusteringSchema.ApplyAsync(_connectionString);
    }

    [Fact]
    public async Task ApplyAsync_FourAtOnceThenAgain_CreatesTheSchemaOnceWithEveryQueryKey()
    {
        var fresh = await server.CreateDatabaseAsync();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => PostgresClusteringSchema.ApplyAsync(fresh))));
        await PostgresClusteringSchema.ApplyAsync(fresh);

        string[] expected =
        [
            "CleanupDefunctSiloEntriesKey", "CleanupDefunctSiloEntryKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey", "InsertMembershipKey",
            "InsertMembershipVersionKey", "MembershipReadAllKey", "MembershipReadRowKey", "UpdateIAmAlivetimeKey", "UpdateMembershipKey",
        ];
        Assert.Equal(expected, await QueryKeysAsync(fresh));
        var table = Table(fresh, "cluster-a");
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        Assert.True(await table.InsertRowAsync(NewEntry(), (await table.ReadAllAsync()).Version.Next()));
    }

    [Fact]
    public async Task ClientGatewayList_OnADatabaseWithoutSchema_AppliesItAndListsNoGateways()
    {
        var fresh = await server.CreateDatabaseAsync();
        var provider = GatewayListProvider(fresh, "cluster-a");

        await provider.InitializeGatewayListProviderAsync();

        Assert.Empty(await provider.GetGatewaysAsync());
        Assert.Equal(10, (await QueryKeysAsync(fresh)).Count);
    }

    private protected override Task<IMembershipTable> CreateTableAsync(string clusterId) =>
        Task.FromResult<IMembershipTable>(Table(_connectionString, clusterId));

    private protected override Task<IGatewayListProvider> CreateGatewayListProviderAsync(string clusterId) =>
        Task.FromResult(GatewayListProvider(_connectionString, clusterId));

    private static AdoNetClusteringTable Table(string connectionString, string clusterId) => new(
        Services,
        Cluster(clusterId),
        Options.Create(new AdoNetClusteringSiloOptions { Invariant = PostgresClusteringExtensions.Invariant, ConnectionString = connectionString }),
        NullLogger<AdoNetClusteringTable>.Instance);

    // What UsePostgresClustering registers for a client: Orleans' provider behind our schema step.
    private static IGatewayListProvider GatewayListProvider(string connectionString, string clusterId)
    {
        var options = Options.Create(new AdoNetClusteringClientOptions { Invariant = PostgresClusteringExtensions.Invariant, ConnectionString = connectionString });
        var inner = new AdoNetGatewayListProvider(
            NullLogger<AdoNetGatewayListProvider>.Instance, Services, options, Options.Create(new GatewayOptions()), Cluster(clusterId));
        return new PostgresSchemaGatewayListProvider(inner, options);
    }

    private static IOptions<ClusterOptions> Cluster(string clusterId) =>
        Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "service" });

    private static async Task<List<string>> QueryKeysAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery ORDER BY QueryKey", connection);
        var keys = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }
}
