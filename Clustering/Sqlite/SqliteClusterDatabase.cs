using Microsoft.Data.Sqlite;
using OrleansReplication.Clustering.Schema;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>Opens connections to the shared membership file the way every process must: WAL, a busy timeout, BEGIN IMMEDIATE for writes.</summary>
/// <remarks>
/// Several silo processes on one machine share the file. WAL lets readers run beside the one writer;
/// the busy timeout makes a writer wait for another process's write lock instead of failing; BEGIN
/// IMMEDIATE takes that lock before the first read of a write, so the version check and the row
/// write of one transaction see no other writer. A connection is opened per call: the driver pools them.
/// </remarks>
internal sealed class SqliteClusterDatabase
{
    private readonly string _connectionString;

    /// <summary>Creates the accessor; nothing is opened until the first call.</summary>
    public SqliteClusterDatabase(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
    }

    /// <summary>Switches the file to WAL and creates the tables if they are missing; safe to run from many processes at once.</summary>
    public Task EnsureSchemaAsync(CancellationToken cancellationToken) =>
        SqliteSchemaRunner.ApplyAsync(_connectionString, SchemaScripts.Load(SchemaScripts.Sqlite), "membership file", cancellationToken);

    /// <summary>
    /// Runs <paramref name="write"/> in a BEGIN IMMEDIATE transaction; commits when it returns true,
    /// rolls back when it returns false, and returns what it returned.
    /// </summary>
    public async Task<bool> WriteAsync(Func<SqliteConnection, SqliteTransaction, Task<bool>> write, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        if (!await write(connection, transaction).ConfigureAwait(false))
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Opens a pooled connection with the busy timeout set; the caller disposes it.</summary>
    public Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => SqliteConnections.OpenAsync(_connectionString, cancellationToken);

    /// <summary>Creates a command on <paramref name="connection"/>, enlisted in <paramref name="transaction"/> when given.</summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql) => SqliteConnections.Command(connection, transaction, sql);
}
