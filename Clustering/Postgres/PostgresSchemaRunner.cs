using Npgsql;

namespace OrleansReplication.Clustering.Postgres;

/// <summary>
/// Runs a schema script in one transaction behind a transaction-scoped advisory lock, so processes
/// that start together apply it one at a time instead of racing on <c>CREATE TABLE IF NOT EXISTS</c>
/// (which can still fail on the catalog's unique index).
/// </summary>
internal static class PostgresSchemaRunner
{
    /// <summary>Applies <paramref name="script"/> under the advisory lock <paramref name="lockKey"/>; rolls back on failure or cancellation.</summary>
    public static async Task ApplyAsync(string connectionString, long lockKey, string script, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await using (var takeLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            takeLock.Parameters.AddWithValue("key", lockKey);
            await takeLock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var run = new NpgsqlCommand(script, connection, transaction))
        {
            await run.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
