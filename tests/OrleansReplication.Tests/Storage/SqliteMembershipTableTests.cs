using Microsoft.Data.Sqlite;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Storage;

/// <summary>The membership table contract on SQLite: a temp database file per test, deleted (with its WAL files) at the end.</summary>
public sealed class SqliteMembershipTableTests : MembershipTableContractTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"or-sqlite-{Guid.NewGuid():N}.db");

    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = _path, Pooling = true }.ConnectionString;

    private protected override Task<IStateStore> CreateStateStoreAsync() => Task.FromResult<IStateStore>(new SqliteStateStore(ConnectionString));

    private protected override Task<IMembershipTable> CreateTableAsync() => Task.FromResult<IMembershipTable>(new SqliteMembershipTable(ConnectionString));

    private protected override Task CleanupAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { string.Empty, "-wal", "-shm", "-journal" })
        {
            File.Delete(_path + suffix);
        }

        return Task.CompletedTask;
    }
}
