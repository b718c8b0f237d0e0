using Microsoft.Data.Sqlite;
using static OrleansReplication.Silo.Storage.SqliteConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// The statements of one commit transaction, each prepared once and run once per row with new
/// parameter values: a flush of a few hundred rows parses its SQL three times, not once per row.
/// </summary>
internal sealed class SqliteCommitStatements : IAsyncDisposable
{
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

    private readonly SqliteConnection _connection;
    private readonly SqliteTransaction _transaction;
    private SqliteCommand? _fence;
    private SqliteCommand? _insert;
    private SqliteCommand? _update;
    private SqliteCommand? _delete;

    public SqliteCommitStatements(SqliteConnection connection, SqliteTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary>Moves the partition's head to (epoch, sequence); false when the stored head is newer (the caller is fenced).</summary>
    public bool Fence(int partitionId, long epoch, long lastSequence)
    {
        var fence = _fence ??= Prepare(FenceSql, "$partition", "$epoch", "$sequence");
        fence.Parameters[0].Value = partitionId;
        fence.Parameters[1].Value = epoch;
        fence.Parameters[2].Value = lastSequence;
        return fence.ExecuteNonQuery() > 0;
    }

    /// <summary>Applies one write if the row is at the expected version; false when it is not (a conflict).</summary>
    public bool Apply(int partitionId, in StoredWrite write)
    {
        SqliteCommand command;
        if (write.Value is null)
        {
            command = _delete ??= Prepare(DeleteItemSql, "$component", "$partitionKey", "$id", "$expected");
            command.Parameters[3].Value = write.ExpectedVersion;
        }
        else if (write.ExpectedVersion == 0)
        {
            command = _insert ??= Prepare(InsertItemSql, "$component", "$partitionKey", "$id", "$partition", "$version", "$value");
            command.Parameters[3].Value = partitionId;
            command.Parameters[4].Value = write.NewVersion;
            command.Parameters[5].Value = write.Value;
        }
        else
        {
            command = _update ??= Prepare(UpdateItemSql, "$component", "$partitionKey", "$id", "$expected", "$version", "$value");
            command.Parameters[3].Value = write.ExpectedVersion;
            command.Parameters[4].Value = write.NewVersion;
            command.Parameters[5].Value = write.Value;
        }

        command.Parameters[0].Value = write.Component;
        command.Parameters[1].Value = write.PartitionKey;
        command.Parameters[2].Value = write.Id;
        return command.ExecuteNonQuery() > 0;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var command in new[] { _fence, _insert, _update, _delete })
        {
            if (command is not null)
            {
                await command.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private SqliteCommand Prepare(string sql, params string[] names)
    {
        var command = Command(_connection, _transaction, sql);
        foreach (var name in names)
        {
            command.Parameters.Add(name, name switch
            {
                "$value" => SqliteType.Blob,
                "$component" or "$partitionKey" or "$id" => SqliteType.Text,
                _ => SqliteType.Integer,
            });
        }

        command.Prepare();
        return command;
    }
}
