using Orleans.Hosting;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// Orleans' own grain storage (<c>[PersistentState("...", "store")]</c>, Microsoft.Orleans.Persistence.AdoNet)
/// on the cluster's PostgreSQL, so a silo that serves replicated state also serves the grains an
/// Orleans application already persists, from the same database. The package ships no SQL: the
/// schema is ours (<c>Storage/Schema/postgres-grain-storage.sql</c>), applied before the provider starts.
/// </summary>
internal static class PostgresGrainStorage
{
    // pg_advisory_xact_lock key of the script: the ASCII bytes of "ORgrain1".
    private const long AdvisoryLockKey = 0x4F52_6772_6169_6E31;

    /// <summary>Adds the grain storage <see cref="SiloGrainStorage.Name"/> over <paramref name="connectionString"/>, with its schema applied at start.</summary>
    public static ISiloBuilder AddPostgresGrainStorage(this ISiloBuilder silo, string connectionString) =>
        silo.AddSiloGrainStorage("Npgsql", connectionString, "PostgreSQL", ct => ApplySchemaAsync(connectionString, ct));

    /// <summary>Creates what is missing of the schema and stores the current query texts; idempotent, one run at a time.</summary>
    public static Task ApplySchemaAsync(string connectionString, CancellationToken cancellationToken) =>
        Clustering.Postgres.PostgresSchemaRunner.ApplyAsync(connectionString, AdvisoryLockKey, SchemaScripts.Load(SchemaScripts.PostgresGrainStorage), cancellationToken);
}
