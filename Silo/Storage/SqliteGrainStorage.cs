using Microsoft.Data.Sqlite;
using Orleans.Hosting;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// Orleans' own grain storage (<c>[PersistentState("...", "store")]</c>, Microsoft.Orleans.Persistence.AdoNet
/// on its SQLite invariant) for the embedded default, so <c>"store"</c> names a durable grain storage on
/// every silo, as <see cref="PostgresGrainStorage"/> does on PostgreSQL. It keeps its own file beside the
/// replication's (<c>replication.grains.db</c>): Orleans' writes never wait for the replication's
/// group commit, nor it for them. The schema is ours (<c>Storage/Schema/sqlite-grain-storage.sql</c>).
/// </summary>
internal static class SqliteGrainStorage
{
    /// <summary>
    /// The connection string of the grain storage's file beside the state's file named by
    /// <paramref name="stateConnectionString"/>; an in-memory database is shared as it is.
    /// </summary>
    public static string ConnectionStringBeside(string stateConnectionString)
    {
        var builder = new SqliteConnectionStringBuilder(stateConnectionString);
        if (builder.Mode != SqliteOpenMode.Memory && builder.DataSource is { Length: > 0 } file && file != ":memory:")
        {
            builder.DataSource = Path.ChangeExtension(file, ".grains.db");
        }

        return builder.ToString();
    }

    /// <summary>Adds the grain storage <see cref="SiloGrainStorage.Name"/> over <paramref name="connectionString"/>, with its schema applied at start.</summary>
    /// <remarks>"System.Data.SQLite" is Orleans' name for SQLite, which it serves with Microsoft.Data.Sqlite.</remarks>
    public static ISiloBuilder AddSqliteGrainStorage(this ISiloBuilder silo, string connectionString) =>
        silo.AddSiloGrainStorage("System.Data.SQLite", connectionString, "SQLite", ct => ApplySchemaAsync(connectionString, ct));

    /// <summary>Creates what is missing of the schema and stores the current query texts; idempotent, one silo at a time.</summary>
    public static async Task ApplySchemaAsync(string connectionString, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(new SqliteConnectionStringBuilder(connectionString).DataSource);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await Clustering.Sqlite.SqliteSchemaRunner.ApplyAsync(connectionString, SchemaScripts.Load(SchemaScripts.SqliteGrainStorage), "grain storage file", cancellationToken).ConfigureAwait(false);
    }
}
