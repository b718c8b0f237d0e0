using System.Globalization;
using Microsoft.Data.Sqlite;
using static OrleansReplication.Silo.Storage.SqliteConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>The embedded <see cref="IStateStore"/>: one SQLite file, shareable by several silo processes.</summary>
/// <remarks>
/// Sharing one file across processes takes WAL (readers never wait for the writer), a busy timeout
/// on every connection (a writer waits for another process's write lock instead of failing), and
/// BEGIN IMMEDIATE for commits (the write lock is taken up front, so the fence check and the writes
/// see no other writer). Microsoft.Data.Sqlite runs its async methods synchronously; they are used
/// for their cancellation checks. A connection is opened per operation: the driver pools them.
/// </remarks>
internal sealed class SqliteStateStore : IStateStore
{
    private const string InsertPartitionCountSql =
        "INSERT INTO or_cluster (key, value) VALUES ('partition_count', $value) ON CONFLICT (key) DO NOTHING";

    private const string SelectPartitionCountSql = "SELECT value FROM or_cluster WHERE key = 'partition_count'";

    private const string SelectPartitionSql = "SELECT epoch, last_sequence FROM or_partitions WHERE partition_id = $partition";

    private const string SelectItemsSql =
        "SELECT component, partition_key, item_id, version, value FROM or_items WHERE partition_id = $partition";

    private const string FenceSql = """
        INSERT INTO or_partitions (partition_id, epoch, last_sequence) VALUES ($partition, $epoch, $sequence)
        ON CONFLICT (partition_id) DO UPDATE SET epoch = excluded.epoch, last_sequence = excluded.last_sequence
        WHERE or_partitions.epoch <= excluded.epoch AND or_partitions.last_sequence < excluded.last_sequence
        """;

    private const string InsertItemSql = """
        INSERT INTO or_items (component, partition_key, item_id, partition_id, version, value)
        VALUES ($component, $partitionKey, $id, $partition, $version, $value)
        ON CONFLICT (component, partition_key, item_id) DO NOTHING
        """;

    private const string UpdateItemSql = """
        UPDATE or_items SET version = $version, value = $value
        WHERE component = $component AND partition_key = $partitionKey AND item_id = $id AND version = $expected
        """;

    private const string DeleteItemSql =
        "DELETE FROM or_items WHERE component = $component AND partition_key = $partitionKey AND item_id = $id AND version = $expected";

    private const string SelectVersionSql =
        "SELECT version FROM or_items WHERE component = $component AND partition_key = $partitionKey AND item_id = $id";

    private const string SelectRequestsSql = "SELECT last_sequence, requests FROM or_requests WHERE partition_id = $partition";

    private const string InsertRequestsSql = """
        INSERT INTO or_requests (partition_id, last_sequence, requests) VALUES ($partition, $last, $requests)
        ON CONFLICT (partition_id, last_sequence) DO NOTHING
        """;

    private const string ForgetRequestsSql = "DELETE FROM or_requests WHERE partition_id = $partition AND last_sequence <= $upTo";

    private readonly string _connectionString;

    // One commit at a time per silo: SQLite takes one writer per file anyway, and its driver runs
    // "async" calls synchronously, so every commit queued at the file lock (the busy handler sleeps)
    // would hold a thread-pool thread; on a 2-core host a few of those starve the write path.
    // Waiting here is asynchronous, so queued flushes (16 partitions') hold no thread.
    private readonly SemaphoreSlim _commitGate = new(1, 1);

    /// <summary>Creates the store; nothing is opened until the first call.</summary>
    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string, e.g. "Data Source=/var/lib/or/state.db".</param>
    public SqliteStateStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
    }

    /// <inheritdoc />
    public string ProviderName => "sqlite";

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);

        // WAL is a property of the file (it persists) and cannot be switched inside a transaction.
        await using (var pragma = Command(connection, null, "PRAGMA journal_mode = WAL"))
        {
            var mode = Convert.ToString(await pragma.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase) && !string.Equals(mode, "memory", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(
                    $"SQLite database '{connection.DataSource}' stayed in journal mode '{mode}' instead of WAL, so silo processes sharing it would block each other. Put the file on a local file system (WAL needs shared memory; network file systems do not support it).");
            }
        }

        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var script = Command(connection, transaction, SchemaScripts.Load(SchemaScripts.Sqlite)))
        {
            await script.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> GetOrSetPartitionCountAsync(int proposed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proposed);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var insert = Command(connection, transaction, InsertPartitionCountSql))
        {
            insert.Parameters.AddWithValue("$value", proposed.ToString(CultureInfo.InvariantCulture));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        string? stored;
        await using (var select = Command(connection, transaction, SelectPartitionCountSql))
        {
            stored = (string?)await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return PartitionCount.Parse(stored, connection.DataSource);
    }

    /// <inheritdoc />
    public Task<PartitionData> LoadPartitionAsync(int partitionId, CancellationToken cancellationToken) => LoadAsync(partitionId, withItems: true, cancellationToken);

    /// <inheritdoc />
    public Task<PartitionData> LoadPartitionHeadAsync(int partitionId, CancellationToken cancellationToken) => LoadAsync(partitionId, withItems: false, cancellationToken);

    private async Task<PartitionData> LoadAsync(int partitionId, bool withItems, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);

        // A read transaction: both SELECTs see the same WAL snapshot, so the sequence matches the items.
        await using var transaction = connection.BeginTransaction(deferred: true);
        var (epoch, lastSequence) = await ReadPartitionHeadAsync(connection, transaction, partitionId, cancellationToken).ConfigureAwait(false);

        var items = new List<StoredItem>();
        if (withItems)
        {
            await using var select = Command(connection, transaction, SelectItemsSql);
            select.Parameters.AddWithValue("$partition", partitionId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                items.Add(new StoredItem(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetFieldValue<byte[]>(4)));
            }
        }

        var requests = new List<StoredRequestBlock>();
        await using (var select = Command(connection, transaction, SelectRequestsSql))
        {
            select.Parameters.AddWithValue("$partition", partitionId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                requests.Add(new StoredRequestBlock(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)));
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return requests.Count == 0
            ? new PartitionData(partitionId, epoch, lastSequence, items)
            : new PartitionData(partitionId, epoch, lastSequence, items) { Requests = requests };
    }

    /// <inheritdoc />
    public async Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CancellationToken cancellationToken)
    {
        StoredWriteRules.ValidateCommit(partitionId, writes);
        await _commitGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CommitLockedAsync(partitionId, epoch, lastSequence, writes, requests, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _commitGate.Release();
        }
    }

    private async Task CommitLockedAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);

        // Disposing the transaction without a commit rolls it back: every throw below persists nothing.
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var fence = Command(connection, transaction, FenceSql))
        {
            fence.Parameters.AddWithValue("$partition", partitionId);
            fence.Parameters.AddWithValue("$epoch", epoch);
            fence.Parameters.AddWithValue("$sequence", lastSequence);
            if (await fence.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                var (storedEpoch, storedSequence) = await ReadPartitionHeadAsync(connection, transaction, partitionId, cancellationToken).ConfigureAwait(false);
                throw new StaleEpochException(partitionId, epoch, storedEpoch, lastSequence, storedSequence);
            }
        }

        foreach (var write in writes)
        {
            if (await ApplyAsync(connection, transaction, partitionId, write, cancellationToken).ConfigureAwait(false) == 0)
            {
                var actual = await ReadVersionAsync(connection, transaction, write, cancellationToken).ConfigureAwait(false);
                throw new StoreConflictException(partitionId, write.Component, write.PartitionKey, write.Id, write.ExpectedVersion, actual);
            }
        }

        if (!requests.IsEmpty)
        {
            await RecordRequestsAsync(connection, transaction, partitionId, requests, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Releases this file's pooled connections, so the silo leaves no handle on it.</summary>
    public ValueTask DisposeAsync()
    {
        ClearPool(_connectionString);
        return ValueTask.CompletedTask;
    }

    private static async Task<int> ApplyAsync(SqliteConnection connection, SqliteTransaction transaction, int partitionId, StoredWrite write, CancellationToken cancellationToken)
    {
        var sql = write.Value is null ? DeleteItemSql : write.ExpectedVersion == 0 ? InsertItemSql : UpdateItemSql;
        await using var command = Command(connection, transaction, sql);
        AddKey(command, write);
        if (write.Value is null || write.ExpectedVersion > 0)
        {
            command.Parameters.AddWithValue("$expected", write.ExpectedVersion);
        }

        if (write.Value is not null)
        {
            command.Parameters.AddWithValue("$version", write.NewVersion);
            command.Parameters.Add("$value", SqliteType.Blob).Value = write.Value;
            if (write.ExpectedVersion == 0)
            {
                command.Parameters.AddWithValue("$partition", partitionId);
            }
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task RecordRequestsAsync(SqliteConnection connection, SqliteTransaction transaction, int partitionId, RequestRecords requests, CancellationToken cancellationToken)
    {
        if (requests.ForgetUpTo > 0)
        {
            await using var forget = Command(connection, transaction, ForgetRequestsSql);
            forget.Parameters.AddWithValue("$partition", partitionId);
            forget.Parameters.AddWithValue("$upTo", requests.ForgetUpTo);
            await forget.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var block in requests.Added)
        {
            await using var insert = Command(connection, transaction, InsertRequestsSql);
            insert.Parameters.AddWithValue("$partition", partitionId);
            insert.Parameters.AddWithValue("$last", block.LastSequence);
            insert.Parameters.Add("$requests", SqliteType.Blob).Value = block.Requests;
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<long> ReadVersionAsync(SqliteConnection connection, SqliteTransaction transaction, StoredWrite write, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, SelectVersionSql);
        AddKey(command, write);
        var version = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return version is long stored ? stored : 0;
    }

    private static async Task<(long Epoch, long LastSequence)> ReadPartitionHeadAsync(SqliteConnection connection, SqliteTransaction transaction, int partitionId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, SelectPartitionSql);
        command.Parameters.AddWithValue("$partition", partitionId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    private static void AddKey(SqliteCommand command, StoredWrite write)
    {
        command.Parameters.AddWithValue("$component", write.Component);
        command.Parameters.AddWithValue("$partitionKey", write.PartitionKey);
        command.Parameters.AddWithValue("$id", write.Id);
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => SqliteConnections.OpenAsync(_connectionString, cancellationToken);
}
