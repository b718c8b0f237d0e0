using OrleansReplication.Clustering.Schema;

namespace OrleansReplication.Clustering.Postgres;

/// <summary>
/// The PostgreSQL schema that Orleans' ADO.NET clustering needs (its package ships no SQL): the
/// membership tables and the <c>OrleansQuery</c> rows it reads its clustering queries from.
/// </summary>
/// <remarks>
/// <see cref="PostgresClusteringExtensions"/> applies it at every silo and client start; call
/// <see cref="ApplyAsync"/> yourself to prepare a database ahead of time (a migration job, a test).
/// </remarks>
public static class PostgresClusteringSchema
{
    // pg_advisory_xact_lock key of this script: any constant other schema code of the database does
    // not use; these are the ASCII bytes of "ORclust1". Held to the end of the transaction.
    private const long AdvisoryLockKey = 0x4F52_636C_7573_7431;

    /// <summary>
    /// Creates what is missing of the clustering schema and stores the current query texts. Idempotent,
    /// and safe to run from several processes at once: one transaction behind an advisory lock, so
    /// concurrent runs take turns instead of racing on <c>CREATE TABLE IF NOT EXISTS</c>.
    /// </summary>
    /// <param name="connectionString">An Npgsql connection string of a role that may create tables in the database.</param>
    /// <param name="cancellationToken">Cancels the connection and the script; the transaction then rolls back.</param>
    /// <returns>A task that completes once the schema is committed.</returns>
    public static Task ApplyAsync(string connectionString, CancellationToken cancellationToken = default) =>
        PostgresSchemaRunner.ApplyAsync(connectionString, AdvisoryLockKey, SchemaScripts.Load(SchemaScripts.Postgres), cancellationToken);
}
