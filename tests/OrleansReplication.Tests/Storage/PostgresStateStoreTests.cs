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
}
