using System.Text;
using Npgsql;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;
using Xunit;

namespace OrleansReplication.Tests.Storage;

/// <summary>The store contract on a real PostgreSQL 15 server: a fresh database per test.</summary>
public sealed class PostgresStateStoreTests(PostgresServerFixture server) : StateStoreContractTests, IClassFixture<PostgresServerFixture>
{
    private string? _connectionString;

    private protected override async Task<IStateStore> CreateStoreAsync()
    {
        _connectionString ??= await server.CreateDatabaseAsync();
        return new PostgresStateStore(_connectionString);
    }

    [Fact]
    public async Task LoadPartition_IdleInTransactionTimeoutOf1ms_EveryRowIsRead()
    {
        // A silo stalled (CPU-starved, paused) inside a partition load's read transaction, with
        // idle_in_transaction_session_timeout ending the session meanwhile: it once failed a silo's
        // start. The load is one statement, outside any transaction; here the server gives 1 ms.
        const int Items = 20_000;
        await using var writer = await CreateStoreAsync();
        await writer.InitializeAsync(CancellationToken.None);
        var writes = Enumerable.Range(1, Items).Select(i => new StoredWrite("orders", string.Empty, $"item-{i:D6}", 0, i, Encoding.UTF8.GetBytes($"{{\"n\":{i},\"pad\":\"{new string('x', 100)}\"}}"))).ToList();
        await writer.CommitAsync(3, 1, Items, writes, CancellationToken.None);
        await using var reader = new PostgresStateStore(new NpgsqlConnectionStringBuilder(_connectionString) { Options = "-c idle_in_transaction_session_timeout=1" }.ConnectionString);

        var data = await reader.LoadPartitionAsync(3, CancellationToken.None);
        var head = await reader.LoadPartitionHeadAsync(3, CancellationToken.None);

        Assert.Equal((1L, (long)Items, Items), (data.Epoch, data.LastSequence, data.Items.Count));
        Assert.Equal((1L, (long)Items), (head.Epoch, head.LastSequence));
    }
}
