using Microsoft.Data.Sqlite;
using OrleansReplication.Silo.Placement;
using static OrleansReplication.Silo.Storage.SqliteConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>The embedded <see cref="IPartitionMapStore"/>: the <c>or_partition_map</c> table of the state store's SQLite file.</summary>
/// <remarks>
/// A change runs in BEGIN IMMEDIATE: the compare-and-swap and the raise of the fencing epoch in
/// <c>or_partitions</c> see no other writer and commit together, so a partition's epoch in the map
/// is never ahead of the epoch its store writes are checked against.
/// </remarks>
internal sealed class SqlitePartitionMapStore : IPartitionMapStore, IAsyncDisposable
{
    private const string SelectAllSql =
        "SELECT partition_id, version, epoch, primary_silo, standbys FROM or_partition_map ORDER BY partition_id";

    private const string InsertSql = """
        INSERT INTO or_partition_map (partition_id, version, epoch, primary_silo, standbys)
        VALUES ($partition, $version, $epoch, $primary, $standbys)
        ON CONFLICT (partition_id) DO NOTHING
        """;

    private const string UpdateSql = """
        UPDATE or_partition_map SET version = $version, epoch = $epoch, primary_silo = $primary, standbys = $standbys
        WHERE partition_id = $partition AND version = $version - 1 AND epoch <= $epoch
        """;

    // Raises the epoch only (never lowers it) and leaves last_sequence alone: the new primary
    // continues the partition's sequence, while a deposed primary's commits now fail the fence.
    private const string RaiseFenceSql = """
        INSERT INTO or_partitions (partition_id, epoch, last_sequence) VALUES ($partition, $epoch, 0)
        ON CONFLICT (partition_id) DO UPDATE SET epoch = excluded.epoch WHERE or_partitions.epoch < excluded.epoch
        """;

    private readonly string _connectionString;

    /// <summary>Creates the map's accessor; nothing is opened until the first call.</summary>
    /// <param name="connectionString">The state store's Microsoft.Data.Sqlite connection string.</param>
    public SqlitePartitionMapStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PartitionAssignment>> ReadPartitionMapAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, null, SelectAllSql);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var map = new List<PartitionAssignment>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            map.Add(PartitionMapRows.Read(reader, connection.DataSource));
        }

        return map;
    }

    /// <inheritdoc />
    public async Task<bool> TryUpdateAssignmentAsync(PartitionAssignment next, CancellationToken cancellationToken)
    {
        PartitionMapRows.Validate(next);
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);

        // Disposing the transaction without a commit rolls it back.
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var change = Command(connection, transaction, next.Version == 1 ? InsertSql : UpdateSql))
        {
            change.Parameters.AddWithValue("$partition", next.PartitionId);
            change.Parameters.AddWithValue("$version", next.Version);
            change.Parameters.AddWithValue("$epoch", next.Epoch);
            change.Parameters.AddWithValue("$primary", (object?)PartitionMapRows.FormatPrimary(next.Primary) ?? DBNull.Value);
            change.Parameters.AddWithValue("$standbys", PartitionMapRows.FormatStandbys(next.Standbys));
            if (await change.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                return false;
            }
        }

        await using (var fence = Command(connection, transaction, RaiseFenceSql))
        {
            fence.Parameters.AddWithValue("$partition", next.PartitionId);
            fence.Parameters.AddWithValue("$epoch", next.Epoch);
            await fence.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task MarkDrainingAsync(Membership.SiloIncarnation silo, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var insert = Command(connection, null, "INSERT INTO or_draining (silo) VALUES ($silo) ON CONFLICT (silo) DO NOTHING");
        insert.Parameters.AddWithValue("$silo", silo.ToString());
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlySet<Membership.SiloIncarnation>> ReadDrainingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, null, "SELECT silo FROM or_draining");
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await PartitionMapRows.ReadDrainingAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Releases this file's pooled connections.</summary>
    public ValueTask DisposeAsync()
    {
        ClearPool(_connectionString);
        return ValueTask.CompletedTask;
    }
}
