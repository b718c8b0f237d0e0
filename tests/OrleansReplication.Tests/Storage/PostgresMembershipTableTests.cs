using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Storage;

/// <summary>The membership table contract on a real PostgreSQL 15 server: a fresh database per test.</summary>
public sealed class PostgresMembershipTableTests(PostgresServerFixture server) : MembershipTableContractTests, IClassFixture<PostgresServerFixture>
{
    private string? _connectionString;

    private protected override async Task<IStateStore> CreateStateStoreAsync() => new PostgresStateStore(await ConnectionStringAsync());

    private protected override async Task<IMembershipTable> CreateTableAsync() => new PostgresMembershipTable(await ConnectionStringAsync());

    private async Task<string> ConnectionStringAsync() => _connectionString ??= await server.CreateDatabaseAsync();
}
