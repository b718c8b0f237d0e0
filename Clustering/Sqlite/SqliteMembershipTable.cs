using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>
/// Orleans' membership table in a SQLite file that several silo processes on one machine share:
/// the embedded default, since Orleans ships no SQLite clustering. Registered by
/// <see cref="SqliteClusteringExtensions.UseSqliteClustering(Orleans.Hosting.ISiloBuilder, Action{SqliteClusteringOptions})"/>.
/// </summary>
/// <remarks>
/// Rows are scoped by <see cref="ClusterOptions.ClusterId"/>. The table version is an integer per
/// cluster and its etag is that integer as text; a row's etag is its own integer, one more at every
/// update. <see cref="InsertRowAsync"/> and <see cref="UpdateRowAsync"/> check the version (and the
/// row's etag) and add one to the version in the same BEGIN IMMEDIATE transaction, or change nothing
/// and return false. Orleans 10 calls the <c>…Async</c> members; the others forward to them.
/// </remarks>
public sealed partial class SqliteMembershipTable : IMembershipTable
{
    private const string ReadSql = $"""
        SELECT v.version, {SqliteMembershipRows.Columns}
        FROM (SELECT $cluster AS cluster_id) AS k
        LEFT JOIN orleans_membership_version AS v ON v.cluster_id = k.cluster_id
        LEFT JOIN orleans_membership AS m ON m.cluster_id = v.cluster_id
        """;

    // Extends the member join's ON clause: the version row still comes back when the silo has no row.
    private const string ReadRowSql = $"{ReadSql} AND m.silo_address = $silo";

    private const string InitVersionSql =
        "INSERT INTO orleans_membership_version (cluster_id, version) VALUES ($cluster, 0) ON CONFLICT (cluster_id) DO NOTHING";

    private readonly SqliteClusterDatabase _database;
    private readonly string _clusterId;
    private readonly ILogger _logger;

    /// <summary>Creates the table for this silo's cluster id; nothing is opened until <see cref="InitializeMembershipTableAsync"/>.</summary>
    /// <param name="options">The SQLite file to use.</param>
    /// <param name="clusterOptions">The cluster id that scopes every row.</param>
    /// <param name="logger">The table's logger.</param>
    public SqliteMembershipTable(IOptions<SqliteClusteringOptions> options, IOptions<ClusterOptions> clusterOptions, ILogger<SqliteMembershipTable> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clusterOptions);
        ArgumentNullException.ThrowIfNull(logger);
        _database = new SqliteClusterDatabase(options.Value.ConnectionString);
        _clusterId = clusterOptions.Value.ClusterId;
        _logger = logger;
    }

    /// <inheritdoc />
    /// <remarks>Creates the tables if missing and, when <paramref name="tryInitTableVersion"/> is set, this cluster's version row (version 0) unless another silo did.</remarks>
    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        var created = tryInitTableVersion && await _database.WriteAsync(
            async (connection, transaction) =>
            {
                await using var insert = SqliteClusterDatabase.Command(connection, transaction, InitVersionSql);
                insert.Parameters.AddWithValue("$cluster", _clusterId);
                return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
            },
            cancellationToken).ConfigureAwait(false);

        if (created)
        {
            LogVersionRowCreated(_clusterId);
        }

        LogInitialized(_clusterId);
    }

    /// <inheritdoc />
    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ReadAsync(ReadRowSql, key, cancellationToken);
    }

    /// <inheritdoc />
    public Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default) => ReadAsync(ReadSql, null, cancellationToken);

    // One statement, so the version and the rows come from one snapshot. A cluster with no version
    // row yet (not initialized, or deleted) reads as version 0 with no members.
    private async Task<MembershipTableData> ReadAsync(string sql, SiloAddress? silo, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = SqliteClusterDatabase.Command(connection, null, sql);
        command.Parameters.AddWithValue("$cluster", _clusterId);
        if (silo is not null)
        {
            command.Parameters.AddWithValue("$silo", silo.ToParsableString());
        }

        var version = 0;
        var members = new List<Tuple<MembershipEntry, string>>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            version = reader.IsDBNull(0) ? 0 : reader.GetInt32(0);
            if (SqliteMembershipRows.Read(reader, 1) is { } member)
            {
                members.Add(member);
            }
        }

        return new MembershipTableData(members, new TableVersion(version, version.ToString(CultureInfo.InvariantCulture)));
    }

    [LoggerMessage(EventId = ClusteringLogEvents.SqliteTableInitialized, Level = LogLevel.Information, Message = "SQLite membership table ready for cluster {ClusterId}.")]
    private partial void LogInitialized(string clusterId);

    [LoggerMessage(EventId = ClusteringLogEvents.SqliteVersionRowCreated, Level = LogLevel.Information, Message = "Created the membership table version row of cluster {ClusterId}: this is the cluster's first silo on this file.")]
    private partial void LogVersionRowCreated(string clusterId);
}
