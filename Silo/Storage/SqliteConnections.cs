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
    /// <summary>Opens a pooled connection with the busy timeout set; the caller disposes it.</summary>
    /// <remarks>The same way the SQLite membership table opens the file the state shares with it.</remarks>
    public static Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken) =>
        Clustering.Sqlite.SqliteConnections.OpenAsync(connectionString, cancellationToken);

    /// <summary>Creates a command on <paramref name="connection"/>, enlisted in <paramref name="transaction"/> when given.</summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql) =>
        Clustering.Sqlite.SqliteConnections.Command(connection, transaction, sql);

    /// <summary>Closes the pooled connections to this file, so the silo leaves no handle on it.</summary>
    public static void ClearPool(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        SqliteConnection.ClearPool(connection);
    }
}
