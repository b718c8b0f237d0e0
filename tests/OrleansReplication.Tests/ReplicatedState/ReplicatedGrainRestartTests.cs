using OrleansReplication.Examples;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Processes;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>
/// Every silo of a PostgreSQL cluster stops and starts again: the replicated carts
/// (<c>[ReplicatedState("cart", storageName: "store")]</c>) come back from the replication's store, with
/// their rows in Orleans' ADO.NET grain storage "store" current; carts an Orleans application keeps with
/// <c>[PersistentState("stored-cart", "store")]</c> come back from that storage, on the same database
/// (the schema the silo applies).
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ReplicatedGrainRestartTests(PostgresServerFixture postgres) : IDisposable, IClassFixture<PostgresServerFixture>
{
    private const int Partitions = 8;
    private const int Carts = 20;
    private readonly TempDirectory _dataDir = new("or-grain-restart-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task EverySiloRestarted_OnPostgres_ReplicatedAndOrleansPersistedCartsComeBack()
    {
        string[] store = ["--storage", "postgres", "--connection-string", await postgres.CreateDatabaseAsync()];
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 2, Partitions, store);
        var written = new Dictionary<string, (CartView Replicated, CartView Stored)>();
        try
        {
            await using (var client = (await ProcessCluster.ConnectClientsAsync(silos.Values, 1, TimeSpan.FromSeconds(20)))[0])
            {
                for (var i = 0; i < Carts; i++)
                {
                    var key = "user-" + i;
                    await client.GetGrain<IShoppingCartGrain>(key).AddAsync("apple", i + 1);
                    await client.GetGrain<IStoredShoppingCartGrain>(key).AddAsync("apple", i + 1);
                    written[key] = (await client.GetGrain<IShoppingCartGrain>(key).AddAsync("pear", 1), await client.GetGrain<IStoredShoppingCartGrain>(key).AddAsync("pear", 1));
                }
            }

            foreach (var silo in silos.Values)
            {
                Assert.Equal(0, await silo.StopAsync());
                await silo.DisposeAsync();
            }

            // The replicated carts' storage ("store", named by their facet) followed them: a row each,
            // written behind the replicas and flushed when the silos stopped.
            Assert.Equal(Carts, await CountStoredAsync(store[3], "cart"));
            Assert.Equal(Carts, await CountStoredAsync(store[3], "stored-cart"));

            silos = await BalancedCluster.StartAsync(_dataDir.Path, 2, Partitions, store);
            await using var again = (await ProcessCluster.ConnectClientsAsync(silos.Values, 1, TimeSpan.FromSeconds(20)))[0];
            foreach (var (key, (replicated, stored)) in written)
            {
                var replicatedNow = await again.GetGrain<IShoppingCartGrain>(key).GetAsync();
                Assert.Equal(replicated.Lines, replicatedNow.Lines);
                Assert.Equal(replicated.Version, replicatedNow.Version);

                var storedNow = await again.GetGrain<IStoredShoppingCartGrain>(key).GetAsync();
                Assert.Equal(stored.Lines, storedNow.Lines);
                Assert.Equal(2, storedNow.Version);
            }
        }
        finally
        {
            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }

    private static async Task<long> CountStoredAsync(string connectionString, string stateName)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM orleans_grain_state WHERE grain_type = @state AND payload IS NOT NULL", connection);
        count.Parameters.AddWithValue("state", stateName);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
