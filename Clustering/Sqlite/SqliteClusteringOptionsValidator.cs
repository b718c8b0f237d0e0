using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>Fails the silo's or client's start when <see cref="SqliteClusteringOptions"/> cannot work, naming the setting to fix.</summary>
/// <remarks>Orleans runs every <see cref="IConfigurationValidator"/> when a silo or client is built, before anything connects.</remarks>
internal sealed class SqliteClusteringOptionsValidator : IConfigurationValidator
{
    private readonly SqliteClusteringOptions _options;

    public SqliteClusteringOptionsValidator(IOptions<SqliteClusteringOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
    }

    /// <inheritdoc />
    public void ValidateConfiguration()
    {
        var failures = Validate(_options);
        if (failures.Count > 0)
        {
            throw new OrleansConfigurationException(
                $"Invalid {nameof(SqliteClusteringOptions)} for SQLite clustering: {string.Join(" ", failures)}");
        }
    }

    /// <summary>Every problem with <paramref name="options"/>, each naming the setting to fix; empty when they are usable.</summary>
    public static IReadOnlyList<string> Validate(SqliteClusteringOptions options)
    {
        const string Setting = $"{nameof(SqliteClusteringOptions)}.{nameof(SqliteClusteringOptions.ConnectionString)}";
        const string Example = "e.g. 'Data Source=/var/lib/orleans-replication/cluster.db'";
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return [$"{Setting} is empty: set it to the SQLite file that every silo and client of the cluster shares, {Example}."];
        }

        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(options.ConnectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
        {
            return [$"{Setting} is not a Microsoft.Data.Sqlite connection string ({ex.Message}); {Example}."];
        }

        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(builder.DataSource))
        {
            failures.Add($"{Setting} names no file ('Data Source' is empty); {Example}.");
        }
        else if (builder.DataSource == ":memory:" || (builder.Mode == SqliteOpenMode.Memory && builder.Cache != SqliteCacheMode.Shared))
        {
            failures.Add($"{Setting} names a private in-memory database, which each pooled connection would see empty; name a file, {Example} (or use 'Mode=Memory;Cache=Shared' within one process).");
        }

        if (builder.Mode == SqliteOpenMode.ReadOnly)
        {
            failures.Add($"{Setting} opens the file read-only ('Mode=ReadOnly'), but silos write their membership rows; remove 'Mode' or set 'Mode=ReadWriteCreate'.");
        }

        return failures;
    }
}
