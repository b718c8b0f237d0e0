using Microsoft.Data.Sqlite;

namespace OrleansReplication.Silo.Storage;

/// <summary>How every SQLite class opens its connections, so all of them share one file the same way.</summary>
/// <remarks>
/// Several silo processes may share one file: WAL (set once by <see cref="SqliteStateStore.InitializeAsync"/>),
/// a busy timeout on every connection, and BEGIN IMMEDIATE (<c>BeginTransaction(deferred: false)</c>)
/// for every write. A connection is opened per operation: the driver pools them.
/// </remarks>
internal static class SqliteConnections
{
    // Long enough to outwait another process's commit batch (milliseconds each), short enough that a
    // file locked for good (a hung process) surfaces as an error instead of a silo that stops.
    private const int BusyTimeoutMilliseconds = 5000;

    /// <summary>Opens a pooled connection with the busy timeout set; the caller disposes it.</summary>
    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

            // Per connection, not per file: wait this long for another process's lock before SQLITE_BUSY.
            await using var pragma = Command(connection, null, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}");
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates a command on <paramref name="connection"/>, enlisted in <paramref name="transaction"/> when given.</summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    /// <summary>Closes the pooled connections to this file, so the silo leaves no handle on it.</summary>
    public static void ClearPool(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        SqliteConnection.ClearPool(connection);
    }
}
