using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Storage;

/// <summary>Creates the configured store provider.</summary>
internal static class StateStoreFactory
{
    public const string SqliteFileName = "replication.db";

    public static IStateStore Create(SiloOptions options, ILoggerFactory? loggers = null) => options.Storage switch
    {
        "postgres" => new PostgresStateStore(options.ConnectionString),
        _ => new SqliteStateStore(SqliteConnectionStringOf(options), loggers?.CreateLogger<SqliteStateStore>()),
    };

    public static string SqliteConnectionStringOf(SiloOptions options) =>
        string.IsNullOrEmpty(options.ConnectionString) ? SqliteConnectionString(options.DataDir) : options.ConnectionString;

    public static Placement.IPartitionMapStore CreatePartitionMapStore(SiloOptions options) => options.Storage switch
    {
        "postgres" => new PostgresPartitionMapStore(options.ConnectionString),
        _ => new SqlitePartitionMapStore(SqliteConnectionStringOf(options)),
    };

    public static string SqliteConnectionString(string dataDir)
    {
        var full = Path.GetFullPath(dataDir);
        Directory.CreateDirectory(full);
        return $"Data Source={Path.Combine(full, SqliteFileName)}";
    }
}
