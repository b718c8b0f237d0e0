using OrleansReplication.Tests.Infrastructure;
using ClusterConnections = OrleansReplication.Clustering.Sqlite.SqliteConnections;

namespace OrleansReplication.Tests.Clustering;

/// <summary>A pooled SQLite connection that went back to the pool inside a transaction comes out of it outside any.</summary>
public sealed class SqliteConnectionsTests
{
    [Fact]
    public async Task PooledConnectionLeftInATransaction_ComesBackInAutocommit_AndBeginsAgain()
    {
        using var directory = new TempDirectory("or-sqlite-pool-");
        var connectionString = $"Data Source={Path.Combine(directory.Path, "pool.db")};Pooling=True";

        // What a failed ROLLBACK leaves: the native connection inside a transaction the driver no longer tracks.
        await using (var leaked = await ClusterConnections.OpenAsync(connectionString, default))
        {
            await using var begin = ClusterConnections.Command(leaked, null, "BEGIN");
            await begin.ExecuteNonQueryAsync();
            Assert.Equal(0, SQLitePCL.raw.sqlite3_get_autocommit(leaked.Handle));
        }

        await using var next = await ClusterConnections.OpenAsync(connectionString, default);
        Assert.Equal(1, SQLitePCL.raw.sqlite3_get_autocommit(next.Handle));
        await using var transaction = next.BeginTransaction(deferred: false);
        await transaction.CommitAsync();
    }
}
