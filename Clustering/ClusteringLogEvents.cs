namespace OrleansReplication.Clustering;

/// <summary>Event ids of the clustering providers' logs, grouped by store. A public contract: never renumber.</summary>
/// <remarks>The silo uses 1000-1899 and the client 2000-2099; clustering takes 3000-3099.</remarks>
internal static class ClusteringLogEvents
{
    // SQLite membership table and gateway list 3000-3049
    public const int SqliteTableInitialized = 3000;
    public const int SqliteVersionRowCreated = 3001;
    public const int SqliteWriteConflict = 3002;
    public const int SqliteDefunctRowsDeleted = 3003;
    public const int SqliteClusterDeleted = 3004;
    public const int SqliteGatewaysRead = 3005;

    // PostgreSQL schema for Orleans' ADO.NET clustering 3050-3099
    public const int PostgresSchemaApplying = 3050;
    public const int PostgresSchemaApplied = 3051;
}
