using System.Globalization;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>
/// Applies a schema script to a SQLite file that several processes may share: WAL first (a property
/// of the file, which cannot be switched inside a transaction), then the script in one BEGIN IMMEDIATE
/// transaction, so processes that start together apply it one at a time.
/// </summary>
internal static class SqliteSchemaRunner
{
    /// <summary>Switches the file to WAL and runs <paramref name="script"/>; <paramref name="file"/> names the file in errors ("database", "membership file").</summary>
    /// <exception cref="InvalidOperationException">The file stayed out of WAL (a network file system).</exception>
    public static async Task ApplyAsync(string connectionString, string script, string file, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(connectionString, cancellationToken).ConfigureAwait(false);
        await using (var pragma = SqliteConnections.Command(connection, null, "PRAGMA journal_mode = WAL"))
        {
            var mode = Convert.ToString(await pragma.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase) && !string.Equals(mode, "memory", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(
                    $"SQLite {file} '{connection.DataSource}' stayed in journal mode '{mode}' instead of WAL, so silo processes sharing it would block each other. Put the file on a local file system (WAL needs shared memory; network file systems do not support it).");
            }
        }

        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var run = SqliteConnections.Command(connection, transaction, script))
        {
            await run.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
