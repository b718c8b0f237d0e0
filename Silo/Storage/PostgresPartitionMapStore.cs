using Npgsql;
using OrleansReplication.Silo.Placement;
using static OrleansReplication.Silo.Storage.PostgresConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>The production <see cref="IPartitionMapStore"/>: the <c>or_partition_map</c> table next to the state, through its own pooled <see cref="NpgsqlDataSource"/>.</summary>
/// <remarks>
/// A change is one transaction of two statements sent as one batch: the compare-and-swap on the map
/// row, then the raise of the fencing epoch in <c>or_partitions</c>. The row count of the first
/// decides: commit both, or roll both back. Every change locks the map row before the fence row, and
/// a state-store commit locks only the fence row, so concurrent changes queue and never deadlock; a
/// queued conditional UPDATE (or INSERT ... DO NOTHING) re-checks on the winner's row and changes nothing.
/// </remarks>
internal sealed class PostgresPartitionMapStore : IPartitionMapStore, IAsyncDisposable
{
    private const string SelectAllSql =
        "SELECT partition_id, version, epoch, primary_silo, standbys FROM or_partition_map ORDER BY partition_id";

    // Parameters are $1 partition, $2 version, $3 epoch, $4 primary, $5 standbys in both statements.
    private const string InsertSql = """
        INSERT INTO or_partition_map (partition_id, version, epoch, primary_silo, standbys)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (partition_id) DO NOTHING
        """;

    private const string UpdateSql = """
        UPDATE or_partition_map SET version = $2, epoch = $3, primary_silo = $4, standbys = $5
        WHERE partition_id = $1 AND version = $2 - 1 AND epoch <= $3
        """;

    // Raises the epoch only (never lowers it) and leaves last_sequence alone: the new primary
    // continues the partition's sequence, while a deposed primary's commits now fail the fence.
    private const string RaiseFenceSql = """
        INSERT INTO or_partitions (partition_id, epoch, last_sequence) VALUES ($1, $2, 0)
        ON CONFLICT (partition_id) DO UPDATE SET epoch = EXCLUDED.epoch WHERE or_partitions.epoch < EXCLUDED.epoch
        """;

    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Creates the map's accessor and its connection pool; nothing is opened until the first call.</summary>
    /// <param name="connectionString">The state store's Npgsql connection string.</param>
    public PostgresPartitionMapStore(string connectionString)
    {
        _dataSource = CreateDataSource(connectionString);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PartitionAssignment>> ReadPartitionMapAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = new NpgsqlCommand(SelectAllSql, connection);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var map = new List<PartitionAssignment>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            map.Add(PartitionMapRows.Read(reader, connection.Database));
        }

        return map;
    }

    // A silo's death moves all its partitions in one round: one commit flush for them, not one each.
    /// <inheritdoc />
    public int ConcurrentUpdates => 16;

    /// <inheritdoc />
    public async Task<bool> TryUpdateAssignmentAsync(PartitionAssignment next, CancellationToken cancellationToken)
    {
        PartitionMapRows.Validate(next);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // Disposing the transaction without a commit rolls it back, the fence raise included.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Statement(
            next.Version == 1 ? InsertSql : UpdateSql,
            Int(next.PartitionId),
            Long(next.Version),
            Long(next.Epoch),
            Text(PartitionMapRows.FormatPrimary(next.Primary)),
            Text(PartitionMapRows.FormatStandbys(next.Standbys))));
        batch.BatchCommands.Add(Statement(RaiseFenceSql, Int(next.PartitionId), Long(next.Epoch)));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

        if (batch.BatchCommands[0].RecordsAffected != 1)
        {
            return false;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task MarkDrainingAsync(Membership.SiloIncarnation silo, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = new NpgsqlCommand("INSERT INTO or_draining (silo) VALUES ($1) ON CONFLICT (silo) DO NOTHING", connection);
        insert.Parameters.Add(Text(silo.ToString()));
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlySet<Membership.SiloIncarnation>> ReadDrainingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = new NpgsqlCommand("SELECT silo FROM or_draining", connection);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await PartitionMapRows.ReadDrainingAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection pool.</summary>
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
