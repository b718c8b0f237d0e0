using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
internal sealed partial class SqliteStateStore : IStateStore
{
    private const string InsertPartitionCountSql =
        "INSERT INTO or_cluster (key, value) VALUES ('partition_count', $value) ON CONFLICT (key) DO NOTHING";

    private const string SelectPartitionCountSql = "SELECT value FROM or_cluster WHERE key = 'partition_count'";

    private const string SelectPartitionSql = "SELECT epoch, last_sequence FROM or_partitions WHERE partition_id = $partition";

    private const string SelectItemsSql =
        "SELECT component, partition_key, item_id, version, value FROM or_items WHERE partition_id = $partition";

    private const string SelectVersionSql =
        "SELECT version FROM or_items WHERE component = $component AND partition_key = $partitionKey AND item_id = $id";

    private const string SelectRequestsSql = "SELECT last_sequence, requests FROM or_requests WHERE partition_id = $partition";

    private const string InsertRequestsSql = """
        INSERT INTO or_requests (partition_id, last_sequence, requests) VALUES ($partition, $last, $requests)
        ON CONFLICT (partition_id, last_sequence) DO NOTHING
        """;

    private const string ForgetRequestsSql = "DELETE FROM or_requests WHERE partition_id = $partition AND last_sequence <= $upTo";

    private readonly string _connectionString;
    private readonly ILogger _logger;

    /// <summary>Creates the store; nothing is opened until the first call.</summary>
    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string, e.g. "Data Source=/var/lib/or/state.db".</param>
    /// <param name="logger">Where a retried load is reported.</param>
    public SqliteStateStore(string connectionString, ILogger<SqliteStateStore>? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
        _logger = logger ?? NullLogger<SqliteStateStore>.Instance;
    }

    /// <inheritdoc />
    public string ProviderName => "sqlite";

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) =>
        Clustering.Sqlite.SqliteSchemaRunner.ApplyAsync(_connectionString, SchemaScripts.Load(SchemaScripts.Sqlite), "database", cancellationToken);

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

    // Seen twice at start beside SIGKILLed processes, cause not found: a pooled connection already
    // inside a transaction ("cannot start a transaction within a transaction"), and a read
    // transaction that SQLite ended on its own ("This SqliteTransaction has completed"; SQLite may
    // roll back on SQLITE_BUSY, e.g. while another process recovers the WAL). A load writes
    // nothing, so it runs once more on a connection of its own, after the pool is emptied.
    private async Task<PartitionData> LoadAsync(int partitionId, bool withItems, CancellationToken cancellationToken)
    {
        try
        {
            return await LoadOnceAsync(partitionId, withItems, _connectionString, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            LogLoadRetried(ex, partitionId, (ex as SqliteException)?.SqliteExtendedErrorCode ?? 0);
            ClearPool(_connectionString);
            var unpooled = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
            return await LoadOnceAsync(partitionId, withItems, unpooled, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = LogEvents.StoreLoadRetried, Level = LogLevel.Warning, Message = "Loading partition {PartitionId} from the SQLite store failed (extended error code {ErrorCode}); loading it again on a new connection. Nothing was written. If this repeats, report it with this message.")]
    private partial void LogLoadRetried(Exception exception, int partitionId, int errorCode);

    private static async Task<PartitionData> LoadOnceAsync(int partitionId, bool withItems, string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(connectionString, cancellationToken).ConfigureAwait(false);

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

    /// <summary>Releases this file's pooled connections, so the silo leaves no handle on it.</summary>
    public ValueTask DisposeAsync()
    {
        ClearPool(_connectionString);
        return ValueTask.CompletedTask;
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

    /// <inheritdoc />
    /// <remarks>
    /// One synced transaction that rewrites a row in place: its WAL frame is synced at FULL, and
    /// a sync of the WAL file takes every frame before it (the Process commits') along.
    /// </remarks>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var touch = Command(connection, transaction, "UPDATE or_cluster SET value = value WHERE key = 'partition_count'"))
        {
            await touch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void AddKey(SqliteCommand command, StoredWrite write)
    {
        command.Parameters.AddWithValue("$component", write.Component);
        command.Parameters.AddWithValue("$partitionKey", write.PartitionKey);
        command.Parameters.AddWithValue("$id", write.Id);
    }

    // A repair by a primary whose epoch the store has not seen yet (it wrote nothing since it took
    // the partition) fences the earlier primaries first; the sequence stays.
    private const string RaiseEpochSql = """
        INSERT INTO or_partitions (partition_id, epoch, last_sequence) VALUES ($partition, $epoch, 0)
        ON CONFLICT (partition_id) DO UPDATE SET epoch = excluded.epoch WHERE or_partitions.epoch < excluded.epoch
        """;

    /// <inheritdoc />
    public async Task<int> RepairAsync(int partitionId, long epoch, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken)
    {
        StoredWriteRules.ValidateCommit(partitionId, writes);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);

        // BEGIN IMMEDIATE: the write lock first, so the head read below holds until the commit.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var (storedEpoch, storedSequence) = await ReadPartitionHeadAsync(connection, transaction, partitionId, cancellationToken).ConfigureAwait(false);
        if (storedEpoch > epoch)
        {
            throw new StaleEpochException(partitionId, epoch, storedEpoch, storedSequence, storedSequence);
        }

        if (storedEpoch < epoch)
        {
            await using var raise = Command(connection, transaction, RaiseEpochSql);
            raise.Parameters.AddWithValue("$partition", partitionId);
            raise.Parameters.AddWithValue("$epoch", epoch);
            await raise.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var repaired = 0;
        await using (var statements = new SqliteCommitStatements(connection, transaction))
        {
            foreach (var write in writes)
            {
                repaired += statements.Apply(partitionId, write) ? 1 : 0;
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return repaired;
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => SqliteConnections.OpenAsync(_connectionString, cancellationToken);
}
