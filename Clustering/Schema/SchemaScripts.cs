namespace OrleansReplication.Clustering.Schema;

/// <summary>Reads the schema scripts embedded from Schema/*.sql.</summary>
internal static class SchemaScripts
{
    /// <summary>The SQLite membership tables of <see cref="Sqlite.SqliteMembershipTable"/>.</summary>
    public const string Sqlite = "Sqlite-Clustering.sql";

    /// <summary>The PostgreSQL tables and OrleansQuery rows of Orleans' ADO.NET clustering.</summary>
    public const string Postgres = "PostgreSQL-Clustering.sql";

    /// <summary>Returns the text of one script, e.g. <see cref="Sqlite"/>.</summary>
    public static string Load(string fileName)
    {
        var assembly = typeof(SchemaScripts).Assembly;
        var resourceName = $"OrleansReplication.Clustering.Schema.{fileName}";
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException(
                $"Schema script '{resourceName}' is not embedded in {assembly.GetName().Name}. The build is broken: the Clustering project must have <EmbeddedResource Include=\"Schema/*.sql\" />.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
