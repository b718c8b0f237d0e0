namespace OrleansReplication.Silo.Storage;

/// <summary>Reads the schema scripts embedded from Storage/Schema/*.sql.</summary>
internal static class SchemaScripts
{
    /// <summary>The SQLite schema.</summary>
    public const string Sqlite = "sqlite.sql";

    /// <summary>The PostgreSQL schema.</summary>
    public const string Postgres = "postgres.sql";

    /// <summary>The PostgreSQL table and OrleansQuery rows of Orleans' ADO.NET grain storage (<see cref="PostgresGrainStorage"/>).</summary>
    public const string PostgresGrainStorage = "postgres-grain-storage.sql";

    /// <summary>The SQLite table and OrleansQuery rows of Orleans' ADO.NET grain storage (<see cref="SqliteGrainStorage"/>).</summary>
    public const string SqliteGrainStorage = "sqlite-grain-storage.sql";

    /// <summary>Returns the text of one script, e.g. <see cref="Sqlite"/>.</summary>
    public static string Load(string fileName)
    {
        var assembly = typeof(SchemaScripts).Assembly;
        var resourceName = $"OrleansReplication.Silo.Storage.Schema.{fileName}";
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException(
                $"Schema script '{resourceName}' is not embedded in {assembly.GetName().Name}. The build is broken: the Silo project must have <EmbeddedResource Include=\"Storage/Schema/*.sql\" />.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
