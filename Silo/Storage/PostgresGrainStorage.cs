using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// Orleans' own grain storage (<c>[PersistentState("...", "store")]</c>, Microsoft.Orleans.Persistence.AdoNet)
/// on the cluster's PostgreSQL, so a silo that serves replicated state also serves the grains an
/// Orleans application already persists, from the same database. The package ships no SQL: the
/// schema is ours (<c>Storage/Schema/postgres-grain-storage.sql</c>), applied before the provider starts.
/// </summary>
internal static partial class PostgresGrainStorage
{
    /// <summary>The storage name grains use: <c>[PersistentState("cart", "store")]</c>.</summary>
    public const string Name = "store";

    // pg_advisory_xact_lock key of the script: the ASCII bytes of "ORgrain1".
    private const long AdvisoryLockKey = 0x4F52_6772_6169_6E31;

    /// <summary>Adds the grain storage <see cref="Name"/> over <paramref name="connectionString"/>, with its schema applied at start.</summary>
    public static ISiloBuilder AddPostgresGrainStorage(this ISiloBuilder silo, string connectionString)
    {
        silo.AddAdoNetGrainStorage(Name, o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        });
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new SchemaStartup(connectionString, sp.GetRequiredService<ILogger<SchemaStartup>>()));
        return silo;
    }

    /// <summary>Creates what is missing of the schema and stores the current query texts; idempotent, one run at a time.</summary>
    public static Task ApplySchemaAsync(string connectionString, CancellationToken cancellationToken) =>
        Clustering.Postgres.PostgresSchemaRunner.ApplyAsync(connectionString, AdvisoryLockKey, SchemaScripts.Load(SchemaScripts.PostgresGrainStorage), cancellationToken);

    /// <summary>
    /// Applies the schema in <see cref="ServiceLifecycleStage.RuntimeServices"/>: after the clustering
    /// schema (RuntimeInitialize) created <c>OrleansQuery</c> under its own lock, so the two scripts never
    /// race to create it, and before the provider reads its queries (ApplicationServices).
    /// </summary>
    internal sealed partial class SchemaStartup(string connectionString, ILogger<SchemaStartup> logger) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(PostgresGrainStorage), ServiceLifecycleStage.RuntimeServices, async ct =>
            {
                await ApplySchemaAsync(connectionString, ct).ConfigureAwait(false);
                LogApplied(Name);
            });

        [LoggerMessage(EventId = LogEvents.GrainStorageReady, Level = LogLevel.Debug, Message = "Orleans grain storage '{Name}' ready on PostgreSQL: its table and OrleansQuery rows are in place.")]
        private partial void LogApplied(string name);
    }
}
