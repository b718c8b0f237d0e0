using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Storage;

/// <summary>The partition map contract on a real PostgreSQL 15 server: a fresh database per test.</summary>
public sealed class PostgresPartitionMapTests(PostgresServerFixture server) : PartitionMapContractTests, IClassFixture<PostgresServerFixture>
{
    private string? _connectionString;

    private protected override async Task<IStateStore> CreateStateStoreAsync() => new PostgresStateStore(await ConnectionStringAsync());

    private protected override async Task<IPartitionMapStore> CreateMapStoreAsync() => new PostgresPartitionMapStore(await ConnectionStringAsync());

    private async Task<string> ConnectionStringAsync() => _connectionString ??= await server.CreateDatabaseAsync();
}
