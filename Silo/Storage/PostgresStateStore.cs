using System.Globalization;
using Npgsql;
using static OrleansReplication.Silo.Storage.PostgresConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>The production <see cref="IStateStore"/>: PostgreSQL through one pooled <see cref="NpgsqlDataSource"/>.</summary>
/// <remarks>
/// A commit is one <see cref="NpgsqlBatch"/> (fence, then every write) sent in one round trip, plus
/// the COMMIT. Statements never fail on a mismatch; they affect no row, and the per-statement row
/// counts decide whether to commit or roll back. The fence's upsert locks the partition's row first,
/// so commits of one partition are serialized and a conditional write never races a second one.
/// </remarks>
internal sealed class PostgresStateStore : IStateStore
{
    private const string InsertPartitionCountSql =
        "INSERT INTO or_cluster (key, value) VALUES ('partition_count', $1) ON CONFLICT (key) DO NOTHING";

    private const string SelectPartitionCountSql = "SELECT value FROM or_cluster WHERE key = 'partition_count'";

    private const string SelectPartitionSql = "SELECT epoch, last_sequence FROM or_partitions WHERE partition_id = $1";

    // A repair by a primary whose epoch the store has not seen yet (it wrote nothing since it took
    // the partition) fences the earlier primaries first; the sequence stays.
    private const string RaiseEpochSql = """
        INSERT INTO or_partitions (partition_id, epoch, last_sequence) VALUES ($1, $2, 0)
        ON CONFLICT (partition_id) DO UPDATE SET epoch = EXCLUDED.epoch WHERE or_partitions.epoch < EXCLUDED.epoch
        """;

    // Locks the head row until the transaction ends: a fenced commit of another epoch waits behind it.
    private const string LockPartitionSql = "SELECT epoch, last_sequence FROM or_partitions WHERE partition_id = $1 FOR UPDATE";

    private const int LoadedHead = 0;
    private const int LoadedItem = 1;
    private const int LoadedRequests = 2;

    // A partition's head, items (when $2) and recorded requests, told apart by the first column
    // (LoadedHead, LoadedItem, LoadedRequests).
    private const string LoadPartitionSql = """
        SELECT 0, epoch, last_sequence, NULL::text, NULL::text, NULL::text, NULL::bytea FROM or_partitions WHERE partition_id = $1
        UNION ALL
        SELECT 1, version, 0, component, partition_key, item_id, value FROM or_items WHERE partition_id = $1 AND $2
        UNION ALL
        SELECT 2, last_sequence, 0, NULL, NULL, NULL, requests FROM or_requests WHERE partition_id = $1
        """;

    private const string FenceSql = """
        INSERT INTO or_partitions (partition_id, epoch, last_sequence) VALUES ($1, $2, $3)
        ON CONFLICT (partition_id) DO UPDATE SET epoch = EXCLUDED.epoch, last_sequence = EXCLUDED.last_sequence
        WHERE or_partitions.epoch <= EXCLUDED.epoch AND or_partitions.last_sequence < EXCLUDED.last_sequence
        """;

    // Key parameters are $1..$3 in every item statement.
    private const string InsertItemSql = """
        INSERT INTO or_items (component, partition_key, item_id, partition_id, version, value)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (component, partition_key, item_id) DO NOTHING
        """;

    private const string UpdateItemSql =
        "UPDATE or_items SET version = $5, value = $6 WHERE component = $1 AND partition_key = $2 AND item_id = $3 AND version = $4";

    private const string DeleteItemSql =
        "DELETE FROM or_items WHERE component = $1 AND partition_key = $2 AND item_id = $3 AND version = $4";

    private const string SelectVersionSql =
        "SELECT version FROM or_items WHERE component = $1 AND partition_key = $2 AND item_id = $3";

    private const string InsertRequestsSql =
        "INSERT INTO or_requests (partition_id, last_sequence, requests) VALUES ($1, $2, $3) ON CONFLICT (partition_id, last_sequence) DO NOTHING";

    private const string ForgetRequestsSql = "DELETE FROM or_requests WHERE partition_id = $1 AND last_sequence <= $2";

    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Creates the store and its connection pool; nothing is opened until the first call.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    public PostgresStateStore(string connectionString)
    {
        _dataSource = CreateDataSource(connectionString);
    }

    /// <inheritdoc />
    public string ProviderName => "postgres";

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // The script starts with pg_advisory_xact_lock: concurrent silos run it one after the other.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var script = new NpgsqlCommand(SchemaScripts.Load(SchemaScripts.Postgres), connection, transaction))
        {
            await script.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> GetOrSetPartitionCountAsync(int proposed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proposed);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // Two statements, not one CTE: a separate SELECT takes a fresh snapshot and so sees the row a
        // concurrent first silo committed while our INSERT waited on it; a CTE's snapshot would not.
        await using (var insert = new NpgsqlCommand(InsertPartitionCountSql, connection))
        {
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = proposed.ToString(CultureInfo.InvariantCulture) });
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var select = new NpgsqlCommand(SelectPartitionCountSql, connection);
        var stored = (string?)await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return PartitionCount.Parse(stored, connection.Database);
    }

    /// <inheritdoc />
    public Task<PartitionData> LoadPartitionAsync(int partitionId, CancellationToken cancellationToken) => LoadAsync(partitionId, withItems: true, cancellationToken);

    /// <inheritdoc />
    public Task<PartitionData> LoadPartitionHeadAsync(int partitionId, CancellationToken cancellationToken) => LoadAsync(partitionId, withItems: false, cancellationToken);

    private async Task<PartitionData> LoadAsync(int partitionId, bool withItems, CancellationToken cancellationToken)
    {
        // One statement, so one snapshot (the sequence matches the items) and no transaction: a
        // session stalled between reads cannot be ended by idle_in_transaction_session_timeout.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(LoadPartitionSql, connection);
        command.Parameters.Add(Int(partitionId));
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = withItems });

        long epoch = 0;
        long lastSequence = 0;
        var items = new List<StoredItem>();
        var requests = new List<StoredRequestBlock>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                switch (reader.GetInt32(0))
                {
                    case LoadedHead:
                        (epoch, lastSequence) = (reader.GetInt64(1), reader.GetInt64(2));
                        break;
                    case LoadedItem:
                        items.Add(new StoredItem(reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetInt64(1), reader.GetFieldValue<byte[]>(6)));
                        break;
                    case LoadedRequests:
                        requests.Add(new StoredRequestBlock(reader.GetInt64(1), reader.GetFieldValue<byte[]>(6)));
                        break;
                }
            }
        }

        if (requests.Count == 0)
        {
            return new PartitionData(partitionId, epoch, lastSequence, items);
        }

        requests.Sort((a, b) => a.LastSequence.CompareTo(b.LastSequence));
        return new PartitionData(partitionId, epoch, lastSequence, items) { Requests = requests };
    }

    /// <inheritdoc />
    /// <remarks>Nothing to do: every commit is synced.</remarks>
    public Task SyncAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    /// <remarks>
    /// Every commit is synced, <see cref="CommitSync.Process"/> too: a PostgreSQL server that
    /// crashes loses unsynced commits (synchronous_commit = off), and a primary that believed them
    /// persisted would no longer match the store.
    /// </remarks>
    public async Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CommitSync sync, CancellationToken cancellationToken)
    {
        StoredWriteRules.ValidateCommit(partitionId, writes);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // Disposing the transaction without a commit rolls it back: every throw below persists nothing.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Statement(FenceSql, Int(partitionId), Long(epoch), Long(lastSequence)));
        foreach (var write in writes)
        {
            batch.BatchCommands.Add(WriteStatement(partitionId, write));
        }

        // After the writes (their row counts are checked by position); in the same round trip.
        if (requests.ForgetUpTo > 0)
        {
            batch.BatchCommands.Add(Statement(ForgetRequestsSql, Int(partitionId), Long(requests.ForgetUpTo)));
        }

        foreach (var block in requests.Added)
        {
            batch.BatchCommands.Add(Statement(InsertRequestsSql, Int(partitionId), Long(block.LastSequence), Bytes(block.Requests)));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

        if (batch.BatchCommands[0].RecordsAffected == 0)
        {
            var (storedEpoch, storedSequence) = await ReadPartitionHeadAsync(connection, transaction, partitionId, cancellationToken).ConfigureAwait(false);
            throw new StaleEpochException(partitionId, epoch, storedEpoch, lastSequence, storedSequence);
        }

        for (var i = 0; i < writes.Count; i++)
        {
            if (batch.BatchCommands[i + 1].RecordsAffected == 0)
            {
                var write = writes[i];
                var actual = await ReadVersionAsync(connection, transaction, write, cancellationToken).ConfigureAwait(false);
                throw new StoreConflictException(partitionId, write.Component, write.PartitionKey, write.Id, write.ExpectedVersion, actual);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> RepairAsync(int partitionId, long epoch, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken)
    {
        StoredWriteRules.ValidateCommit(partitionId, writes);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long storedEpoch = 0, storedSequence = 0;
        await using (var head = new NpgsqlCommand(LockPartitionSql, connection, transaction))
        {
            head.Parameters.Add(Int(partitionId));
            await using var reader = await head.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                (storedEpoch, storedSequence) = (reader.GetInt64(0), reader.GetInt64(1));
            }
        }

        if (storedEpoch > epoch)
        {
            throw new StaleEpochException(partitionId, epoch, storedEpoch, storedSequence, storedSequence);
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        var first = 0;
        if (storedEpoch < epoch)
        {
            batch.BatchCommands.Add(Statement(RaiseEpochSql, Int(partitionId), Long(epoch)));
            first = 1;
        }

        if (batch.BatchCommands.Count + writes.Count == 0)
        {
            return 0;
        }

        foreach (var write in writes)
        {
            batch.BatchCommands.Add(WriteStatement(partitionId, write));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        var repaired = 0;
        for (var i = first; i < batch.BatchCommands.Count; i++)
        {
            repaired += batch.BatchCommands[i].RecordsAffected > 0 ? 1 : 0;
        }

        return repaired;
    }

    /// <summary>Closes the connection pool.</summary>
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static NpgsqlBatchCommand WriteStatement(int partitionId, StoredWrite write)
    {
        if (write.Value is null)
        {
            return Statement(DeleteItemSql, Text(write.Component), Text(write.PartitionKey), Text(write.Id), Long(write.ExpectedVersion));
        }

        return write.ExpectedVersion == 0
            ? Statement(InsertItemSql, Text(write.Component), Text(write.PartitionKey), Text(write.Id), Int(partitionId), Long(write.NewVersion), Bytes(write.Value))
            : Statement(UpdateItemSql, Text(write.Component), Text(write.PartitionKey), Text(write.Id), Long(write.ExpectedVersion), Long(write.NewVersion), Bytes(write.Value));
    }

    // Read inside the still-open transaction (no statement failed, so it is usable), before the rollback.
    private static async Task<long> ReadVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, StoredWrite write, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(SelectVersionSql, connection, transaction);
        command.Parameters.Add(Text(write.Component));
        command.Parameters.Add(Text(write.PartitionKey));
        command.Parameters.Add(Text(write.Id));
        var version = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return version is long stored ? stored : 0;
    }

    private static async Task<(long Epoch, long LastSequence)> ReadPartitionHeadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int partitionId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(SelectPartitionSql, connection, transaction);
        command.Parameters.Add(Int(partitionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }
}
