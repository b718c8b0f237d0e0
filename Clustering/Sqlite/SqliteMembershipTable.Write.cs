using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>The writes: each one transaction, so a version check and the row write it guards commit together or not at all.</summary>
public sealed partial class SqliteMembershipTable
{
    private const string BumpVersionSql =
        "UPDATE orleans_membership_version SET version = version + 1 WHERE cluster_id = $cluster AND version = $expected";

    private const string InsertSql = """
        INSERT INTO orleans_membership (cluster_id, silo_address, etag, status, proxy_port, host_name, silo_name,
            role_name, update_zone, fault_zone, suspect_times, last_vote_time, start_time, i_am_alive_time)
        VALUES ($cluster, $silo, 0, $status, $proxyPort, $hostName, $siloName,
            $roleName, $updateZone, $faultZone, $suspectTimes, $lastVoteTime, $startTime, $iAmAliveTime)
        ON CONFLICT (cluster_id, silo_address) DO NOTHING
        """;

    private const string UpdateSql = """
        UPDATE orleans_membership SET etag = etag + 1, status = $status, proxy_port = $proxyPort, host_name = $hostName,
            silo_name = $siloName, role_name = $roleName, update_zone = $updateZone, fault_zone = $faultZone,
            suspect_times = $suspectTimes, last_vote_time = $lastVoteTime, start_time = $startTime, i_am_alive_time = $iAmAliveTime
        WHERE cluster_id = $cluster AND silo_address = $silo AND etag = $etag
        """;

    private const string IAmAliveSql =
        "UPDATE orleans_membership SET i_am_alive_time = $iAmAliveTime WHERE cluster_id = $cluster AND silo_address = $silo";

    // Dead, with no sign of life (start, heartbeat or suspicion vote) since the date: what Orleans 10's
    // own in-memory table deletes. Rows in any other status stay, however old.
    private const string CleanupSql = """
        DELETE FROM orleans_membership
        WHERE cluster_id = $cluster AND status = $dead AND MAX(start_time, i_am_alive_time, last_vote_time) < $before
        """;

    private const string DeleteClusterSql = """
        DELETE FROM orleans_membership WHERE cluster_id = $cluster;
        DELETE FROM orleans_membership_version WHERE cluster_id = $cluster;
        """;

    /// <inheritdoc />
    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default) =>
        WriteRowAsync(InsertSql, entry, rowETag: null, tableVersion, cancellationToken);

    /// <inheritdoc />
    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(etag);
        return WriteRowAsync(UpdateSql, entry, etag, tableVersion, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Changes the row's IAmAliveTime only: neither the table version nor the row's etag.</remarks>
    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await ExecuteAsync(IAmAliveSql, _clusterId, cancellationToken, command =>
        {
            command.Parameters.AddWithValue("$silo", entry.SiloAddress.ToParsableString());
            command.Parameters.AddWithValue("$iAmAliveTime", SqliteMembershipRows.ToTicks(entry.IAmAliveTime));
        }).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default)
    {
        var deleted = await ExecuteAsync(CleanupSql, _clusterId, cancellationToken, command =>
        {
            command.Parameters.AddWithValue("$dead", (int)SiloStatus.Dead);
            command.Parameters.AddWithValue("$before", beforeDate.UtcTicks);
        }).ConfigureAwait(false);
        if (deleted > 0)
        {
            LogDefunctRowsDeleted(deleted, _clusterId, beforeDate);
        }
    }

    /// <inheritdoc />
    /// <remarks>Deletes the rows and the version row of <paramref name="clusterId"/>, which need not be this silo's.</remarks>
    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clusterId);
        await ExecuteAsync(DeleteClusterSql, clusterId, cancellationToken, _ => { }).ConfigureAwait(false);
        LogClusterDeleted(clusterId);
    }

    private async Task<bool> WriteRowAsync(string sql, MembershipEntry entry, string? rowETag, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);

        // Both etags are integers this table wrote; anything else can never match.
        var expectedETag = 0L;
        if (!TryParseETag(tableVersion.VersionEtag, out var expectedVersion) || (rowETag is not null && !TryParseETag(rowETag, out expectedETag)))
        {
            LogWriteConflict(entry.SiloAddress, "an etag this table never issued");
            return false;
        }

        return await _database.WriteAsync(
            async (connection, transaction) =>
            {
                await using var bump = SqliteClusterDatabase.Command(connection, transaction, BumpVersionSql);
                bump.Parameters.AddWithValue("$cluster", _clusterId);
                bump.Parameters.AddWithValue("$expected", expectedVersion);
                if (await bump.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    LogWriteConflict(entry.SiloAddress, $"the table version is no longer {expectedVersion}");
                    return false;
                }

                await using var write = SqliteClusterDatabase.Command(connection, transaction, sql);
                write.Parameters.AddWithValue("$cluster", _clusterId);
                SqliteMembershipRows.Bind(write, entry);
                if (rowETag is not null)
                {
                    write.Parameters.AddWithValue("$etag", expectedETag);
                }

                if (await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    LogWriteConflict(entry.SiloAddress, rowETag is null ? "the silo already has a row" : $"the row's etag is no longer {rowETag}, or the row is gone");
                    return false;
                }

                return true;
            },
            cancellationToken).ConfigureAwait(false);
    }

    // A single-statement write, in its own BEGIN IMMEDIATE transaction like every write; returns the rows changed.
    private async Task<int> ExecuteAsync(string sql, string clusterId, CancellationToken cancellationToken, Action<SqliteCommand> bind)
    {
        var changed = 0;
        await _database.WriteAsync(
            async (connection, transaction) =>
            {
                await using var command = SqliteClusterDatabase.Command(connection, transaction, sql);
                command.Parameters.AddWithValue("$cluster", clusterId);
                bind(command);
                changed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken).ConfigureAwait(false);
        return changed;
    }

    private static bool TryParseETag(string etag, out long value) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    [LoggerMessage(EventId = ClusteringLogEvents.SqliteWriteConflict, Level = LogLevel.Debug, Message = "Membership write for {SiloAddress} not applied: {Reason}. Orleans reads the table again and retries.")]
    private partial void LogWriteConflict(SiloAddress siloAddress, string reason);

    [LoggerMessage(EventId = ClusteringLogEvents.SqliteDefunctRowsDeleted, Level = LogLevel.Information, Message = "Deleted {Count} dead membership rows of cluster {ClusterId} with no sign of life since {BeforeDate}.")]
    private partial void LogDefunctRowsDeleted(int count, string clusterId, DateTimeOffset beforeDate);

    [LoggerMessage(EventId = ClusteringLogEvents.SqliteClusterDeleted, Level = LogLevel.Information, Message = "Deleted every membership row and the table version of cluster {ClusterId}.")]
    private partial void LogClusterDeleted(string clusterId);
}
