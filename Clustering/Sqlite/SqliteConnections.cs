using Microsoft.Data.Sqlite;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>
/// How every SQLite connection to a file that several silo processes share is opened: a busy timeout
/// on each connection (WAL is set once per file, writes use BEGIN IMMEDIATE). The membership table
/// and the silo's state store share the same file, so they share this one way of opening it.
/// </summary>
internal static class SqliteConnections
{
    // Long enough to outwait another process's commit (milliseconds each), short enough that a file
    // locked for good (a hung process) surfaces as an error instead of a silo that stops.
    private const int BusyTimeoutMilliseconds = 5000;

    /// <summary>Opens a pooled connection with the busy timeout set; the caller disposes it.</summary>
    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

            // Per connection, not per file: wait this long for another process's lock before SQLITE_BUSY.
            // Temporary files (the statement journals of a group commit's savepoints) in memory:
            // on disk, each savepoint created, wrote and unlinked a file under /var/tmp.
            // Every commit synced unless its caller says otherwise (a pooled connection keeps what
            // the last user set: the state store's write-behind lowers it for its own transactions).
            await using var pragma = Command(connection, null, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}; PRAGMA temp_store = MEMORY; PRAGMA synchronous = FULL");
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
}
