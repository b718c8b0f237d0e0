namespace OrleansReplication.Clustering.Sqlite;

/// <summary>Options of the SQLite clustering provider: the membership file that the silos (and clients) of one machine share.</summary>
public sealed class SqliteClusteringOptions
{
    /// <summary>The Microsoft.Data.Sqlite connection string of the shared membership file.</summary>
    /// <value>
    /// Empty by default; it must be set, e.g. <c>Data Source=/var/lib/orleans-replication/cluster.db</c>.
    /// The file may be the state store's: the membership tables are named <c>orleans_membership*</c>.
    /// It must be on a local file system (WAL), and every silo and client of the cluster must name the same file.
    /// </value>
    public string ConnectionString { get; set; } = string.Empty;
}
