using Npgsql;
using OrleansReplication.Silo.Membership;
using static OrleansReplication.Silo.Storage.PostgresConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>The production <see cref="IMembershipTable"/>: the <c>or_silos</c> table next to the state, through its own pooled <see cref="NpgsqlDataSource"/>.</summary>
/// <remarks>
/// The schema comes from <see cref="PostgresStateStore.InitializeAsync"/>. Every status change is a
/// conditional UPDATE: PostgreSQL re-checks its WHERE on the row a concurrent writer committed, so of
/// two silos moving the same row from the same status, exactly one sees a changed row.
/// </remarks>
internal sealed class PostgresMembershipTable : IMembershipTable, IAsyncDisposable
{
    private const string UpsertSql = """
        INSERT INTO or_silos (silo_id, incarnation, status, silo_endpoint, gateway_endpoint, http_endpoint, zone, host, rack, i_am_alive, free_memory, partitions)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (silo_id, incarnation) DO UPDATE SET
            status = EXCLUDED.status, silo_endpoint = EXCLUDED.silo_endpoint, gateway_endpoint = EXCLUDED.gateway_endpoint,
            http_endpoint = EXCLUDED.http_endpoint, zone = EXCLUDED.zone, host = EXCLUDED.host, rack = EXCLUDED.rack,
            i_am_alive = EXCLUDED.i_am_alive, free_memory = EXCLUDED.free_memory, partitions = EXCLUDED.partitions
        """;

    private const string KillOlderIncarnationsSql =
        "UPDATE or_silos SET status = $3 WHERE silo_id = $1 AND incarnation < $2 AND status <> $3";

    private const string HeartbeatSql =
        "UPDATE or_silos SET i_am_alive = $3, free_memory = $4, partitions = $5 WHERE silo_id = $1 AND incarnation = $2 AND status <> $6";

    private const string UpdateStatusSql =
        "UPDATE or_silos SET status = $4 WHERE silo_id = $1 AND incarnation = $2 AND status = $3";

    // COLLATE "C": byte order, as SQLite sorts, whatever the database's default collation.
    private const string SelectAllSql = """
        SELECT silo_id, incarnation, status, silo_endpoint, gateway_endpoint, http_endpoint, zone, host, rack, i_am_alive, free_memory, partitions
        FROM or_silos ORDER BY silo_id COLLATE "C", incarnation
        """;

    private const string CleanupSql = "DELETE FROM or_silos WHERE status = $1 AND i_am_alive < $2";

    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Creates the table's accessor and its connection pool; nothing is opened until the first call.</summary>
    /// <param name="connectionString">The state store's Npgsql connection string.</param>
    public PostgresMembershipTable(string connectionString)
    {
        _dataSource = CreateDataSource(connectionString);
    }

    /// <inheritdoc />
    public async Task JoinAsync(SiloRecord silo, CancellationToken cancellationToken)
    {
        MembershipRows.ValidateJoin(silo);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Statement(
            UpsertSql,
            Text(silo.Address.SiloId),
            Long(silo.Address.Incarnation),
            Int((int)silo.Status),
            Text(silo.SiloEndpoint),
            Text(silo.GatewayEndpoint),
            Text(silo.HttpEndpoint),
            Text(silo.Zone),
            Text(silo.Host),
            Text(silo.Rack),
            Long(silo.IAmAlive),
            Long(silo.FreeMemoryBytes),
            Int(silo.PartitionsCarried)));

        // A new incarnation proves the old ones stopped: mark them Dead now rather than wait for probes.
        batch.BatchCommands.Add(Statement(KillOlderIncarnationsSql, Text(silo.Address.SiloId), Long(silo.Address.Incarnation), Int((int)SiloStatus.Dead)));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> HeartbeatAsync(SiloIncarnation silo, long iAmAlive, long freeMemoryBytes, int partitionsCarried, CancellationToken cancellationToken)
    {
        MembershipRows.ValidateAddress(silo);
        return await ExecuteAsync(
            HeartbeatSql,
            [Text(silo.SiloId), Long(silo.Incarnation), Long(iAmAlive), Long(freeMemoryBytes), Int(partitionsCarried), Int((int)SiloStatus.Dead)],
            cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> TryUpdateStatusAsync(SiloIncarnation silo, SiloStatus expected, SiloStatus status, CancellationToken cancellationToken)
    {
        MembershipRows.ValidateAddress(silo);
        MembershipRows.ValidateStatus(expected, nameof(expected));
        MembershipRows.ValidateStatus(status, nameof(status));
        return await ExecuteAsync(
            UpdateStatusSql,
            [Text(silo.SiloId), Long(silo.Incarnation), Int((int)expected), Int((int)status)],
            cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = new NpgsqlCommand(SelectAllSql, connection);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var silos = new List<SiloRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            silos.Add(MembershipRows.Read(reader, connection.Database));
        }

        return silos;
    }

    /// <inheritdoc />
    public Task<int> CleanupDeadAsync(long olderThan, CancellationToken cancellationToken) =>
        ExecuteAsync(CleanupSql, [Int((int)SiloStatus.Dead), Long(olderThan)], cancellationToken);

    /// <summary>Closes the connection pool.</summary>
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    // One statement in autocommit: atomic on its own; returns the rows it changed.
    private async Task<int> ExecuteAsync(string sql, NpgsqlParameter[] parameters, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
