using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// The Orleans grain storage every silo has, on the cluster's own database: <see cref="SqliteGrainStorage"/>
/// embedded, <see cref="PostgresGrainStorage"/> on PostgreSQL. Orleans' ADO.NET provider ships no SQL,
/// so each applies its schema before the provider reads its queries.
/// </summary>
internal static partial class SiloGrainStorage
{
    /// <summary>The storage name grains use: <c>[PersistentState("cart", "store")]</c>, <c>[ReplicatedState("cart", storageName: "store")]</c>.</summary>
    public const string Name = "store";

    /// <summary>Adds Orleans' ADO.NET grain storage <see cref="Name"/> on <paramref name="invariant"/>, with <paramref name="applySchema"/> run at start.</summary>
    public static ISiloBuilder AddSiloGrainStorage(this ISiloBuilder silo, string invariant, string connectionString, string database, Func<CancellationToken, Task> applySchema)
    {
        silo.AddAdoNetGrainStorage(Name, o =>
        {
            o.Invariant = invariant;
            o.ConnectionString = connectionString;
        });
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new SchemaStartup(database, applySchema, sp.GetRequiredService<ILogger<SchemaStartup>>()));
        return silo;
    }

    /// <summary>
    /// Applies the schema in <see cref="ServiceLifecycleStage.RuntimeServices"/>: after the clustering
    /// schema (RuntimeInitialize) created <c>OrleansQuery</c> under its own lock, so the two scripts never
    /// race to create it, and before the provider reads its queries (ApplicationServices).
    /// </summary>
    internal sealed partial class SchemaStartup(string database, Func<CancellationToken, Task> applySchema, ILogger<SchemaStartup> logger) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(SiloGrainStorage), ServiceLifecycleStage.RuntimeServices, async ct =>
            {
                await applySchema(ct).ConfigureAwait(false);
                LogApplied(Name, database);
            });

        [LoggerMessage(EventId = LogEvents.GrainStorageReady, Level = LogLevel.Debug, Message = "Orleans grain storage '{Name}' ready on {Database}: its table and OrleansQuery rows are in place.")]
        private partial void LogApplied(string name, string database);
    }
}
