using Microsoft.Data.Sqlite;
using OrleansReplication.Silo.Membership;
using static OrleansReplication.Silo.Storage.SqliteConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>The embedded <see cref="IMembershipTable"/>: the <c>or_silos</c> table of the state store's SQLite file.</summary>
/// <remarks>
/// The schema comes from <see cref="SqliteStateStore.InitializeAsync"/>. Every write runs in
/// BEGIN IMMEDIATE, as the state store's do, so silo processes sharing the file queue on the busy
/// timeout instead of failing; every status change is a conditional UPDATE whose row count says who won.
/// </remarks>
internal sealed class SqliteMembershipTable : IMembershipTable, IAsyncDisposable
{
    private const string UpsertSql = """
        INSERT INTO or_silos (silo_id, incarnation, status, silo_endpoint, gateway_endpoint, http_endpoint, zone, host, rack, i_am_alive, free_memory, partitions)
        VALUES ($id, $incarnation, $status, $siloEndpoint, $gatewayEndpoint, $httpEndpoint, $zone, $host, $rack, $iAmAlive, $freeMemory, $partitions)
        ON CONFLICT (silo_id, incarnation) DO UPDATE SET
            status = excluded.status, silo_endpoint = excluded.silo_endpoint, gateway_endpoint = excluded.gateway_endpoint,
            http_endpoint = excluded.http_endpoint, zone = excluded.zone, host = excluded.host, rack = excluded.rack,
            i_am_alive = excluded.i_am_alive, free_memory = excluded.free_memory, partitions = excluded.partitions
        """;

    private const string KillOlderIncarnationsSql =
        "UPDATE or_silos SET status = $dead WHERE silo_id = $id AND incarnation < $incarnation AND status <> $dead";

    private const string HeartbeatSql = """
        UPDATE or_silos SET i_am_alive = $iAmAlive, free_memory = $freeMemory, partitions = $partitions
        WHERE silo_id = $id AND incarnation = $incarnation AND status <> $dead
        """;

    private const string UpdateStatusSql =
        "UPDATE or_silos SET status = $status WHERE silo_id = $id AND incarnation = $incarnation AND status = $expected";

    private const string SelectAllSql = """
        SELECT silo_id, incarnation, status, silo_endpoint, gateway_endpoint, http_endpoint, zone, host, rack, i_am_alive, free_memory, partitions
        FROM or_silos ORDER BY silo_id, incarnation
        """;

    private const string CleanupSql = "DELETE FROM or_silos WHERE status = $dead AND i_am_alive < $olderThan";

    private readonly string _connectionString;

    /// <summary>Creates the table's accessor; nothing is opened until the first call.</summary>
    /// <param name="connectionString">The state store's Microsoft.Data.Sqlite connection string.</param>
    public SqliteMembershipTable(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
    }

    /// <inheritdoc />
    public async Task JoinAsync(SiloRecord silo, CancellationToken cancellationToken)
    {
        MembershipRows.ValidateJoin(silo);
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var upsert = Command(connection, transaction, UpsertSql))
        {
            AddKey(upsert, silo.Address);
            upsert.Parameters.AddWithValue("$status", (int)silo.Status);
            upsert.Parameters.AddWithValue("$siloEndpoint", silo.SiloEndpoint);
            upsert.Parameters.AddWithValue("$gatewayEndpoint", silo.GatewayEndpoint);
            upsert.Parameters.AddWithValue("$httpEndpoint", silo.HttpEndpoint);
            upsert.Parameters.AddWithValue("$zone", silo.Zone);
            upsert.Parameters.AddWithValue("$host", silo.Host);
            upsert.Parameters.AddWithValue("$rack", silo.Rack);
            upsert.Parameters.AddWithValue("$iAmAlive", silo.IAmAlive);
            upsert.Parameters.AddWithValue("$freeMemory", silo.FreeMemoryBytes);
            upsert.Parameters.AddWithValue("$partitions", silo.PartitionsCarried);
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // A new incarnation proves the old ones stopped: mark them Dead now rather than wait for probes.
        await using (var kill = Command(connection, transaction, KillOlderIncarnationsSql))
        {
            AddKey(kill, silo.Address);
            kill.Parameters.AddWithValue("$dead", (int)SiloStatus.Dead);
            await kill.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> HeartbeatAsync(SiloIncarnation silo, long iAmAlive, long freeMemoryBytes, int partitionsCarried, CancellationToken cancellationToken)
    {
        MembershipRows.ValidateAddress(silo);
        return await ExecuteWriteAsync(HeartbeatSql, command =>
        {
            AddKey(command, silo);
            command.Parameters.AddWithValue("$iAmAlive", iAmAlive);
            command.Parameters.AddWithValue("$freeMemory", freeMemoryBytes);
            command.Parameters.AddWithValue("$partitions", partitionsCarried);
            command.Parameters.AddWithValue("$dead", (int)SiloStatus.Dead);
        }, cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> TryUpdateStatusAsync(SiloIncarnation silo, SiloStatus expected, SiloStatus status, CancellationToken cancellationToken)
    {
        MembershipRows.ValidateAddress(silo);
        MembershipRows.ValidateStatus(expected, nameof(expected));
        MembershipRows.ValidateStatus(status, nameof(status));
        return await ExecuteWriteAsync(UpdateStatusSql, command =>
        {
            AddKey(command, silo);
            command.Parameters.AddWithValue("$expected", (int)expected);
            command.Parameters.AddWithValue("$status", (int)status);
        }, cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SiloRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, null, SelectAllSql);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var silos = new List<SiloRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            silos.Add(MembershipRows.Read(reader, connection.DataSource));
        }

        return silos;
    }

    /// <inheritdoc />
    public Task<int> CleanupDeadAsync(long olderThan, CancellationToken cancellationToken) => ExecuteWriteAsync(CleanupSql, command =>
    {
        command.Parameters.AddWithValue("$dead", (int)SiloStatus.Dead);
        command.Parameters.AddWithValue("$olderThan", olderThan);
    }, cancellationToken);

    /// <summary>Releases this file's pooled connections.</summary>
    public ValueTask DisposeAsync()
    {
        ClearPool(_connectionString);
        return ValueTask.CompletedTask;
    }

    private static void AddKey(SqliteCommand command, SiloIncarnation silo)
    {
        command.Parameters.AddWithValue("$id", silo.SiloId);
        command.Parameters.AddWithValue("$incarnation", silo.Incarnation);
    }

    // One conditional statement in its own BEGIN IMMEDIATE transaction; returns the rows it changed.
    private async Task<int> ExecuteWriteAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        int rows;
        await using (var command = Command(connection, transaction, sql))
        {
            bind(command);
            rows = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return rows;
    }
}
