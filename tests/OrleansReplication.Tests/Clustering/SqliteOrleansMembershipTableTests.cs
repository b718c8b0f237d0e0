using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using OrleansReplication.Clustering.Sqlite;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Clustering;

/// <summary>The membership table contract on our SQLite table: a fresh file per test, each table its own instance as each silo process has.</summary>
public sealed class SqliteOrleansMembershipTableTests : OrleansMembershipTableContractTests
{
    private readonly TempDirectory _directory = new("or-sqlite-clustering-");

    private string ConnectionString => $"Data Source={Path.Combine(_directory.Path, "cluster.db")}";

    /// <inheritdoc />
    public override Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task InsertRow_EveryField_RoundTripsExactly()
    {
        var table = await InitializedTableAsync("cluster-a");
        var entry = NewEntry(SiloStatus.Active, time: DateTime.UtcNow);
        entry.RoleName = "replica";
        entry.UpdateZone = 3;
        entry.FaultZone = 5;
        entry.SuspectTimes = [Tuple.Create(NewSilo("10.0.0.9"), DateTime.UtcNow)];

        Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));

        var (stored, _, _) = await ReadOneAsync(table, entry.SiloAddress);
        Assert.Equal(entry.ToFullString(), stored.ToFullString());
        Assert.Equal(entry.SuspectTimes, stored.SuspectTimes);
        Assert.Equal(DateTimeKind.Utc, stored.SuspectTimes![0].Item2.Kind);
    }

    [Fact]
    public async Task UpdateRow_ETagNotIssuedByTheTable_Fails()
    {
        var (table, entry) = await InsertedAsync();
        var (row, _, version) = await ReadOneAsync(table, entry.SiloAddress);

        Assert.False(await table.UpdateRowAsync(row, "not-a-number", version.Next()));
        Assert.False(await table.UpdateRowAsync(row, "0", new TableVersion(version.Version + 1, "x")));
        Assert.Equal(version, (await table.ReadAllAsync()).Version);
    }

    private protected override Task<IMembershipTable> CreateTableAsync(string clusterId) =>
        Task.FromResult<IMembershipTable>(new SqliteMembershipTable(Options(), Cluster(clusterId), NullLogger<SqliteMembershipTable>.Instance));

    private protected override Task<IGatewayListProvider> CreateGatewayListProviderAsync(string clusterId) =>
        Task.FromResult<IGatewayListProvider>(new SqliteGatewayListProvider(
            Options(), Cluster(clusterId), Microsoft.Extensions.Options.Options.Create(new GatewayOptions()), NullLogger<SqliteGatewayListProvider>.Instance));

    private IOptions<SqliteClusteringOptions> Options() =>
        Microsoft.Extensions.Options.Options.Create(new SqliteClusteringOptions { ConnectionString = ConnectionString });

    private static IOptions<ClusterOptions> Cluster(string clusterId) =>
        Microsoft.Extensions.Options.Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "service" });
}
