using Npgsql;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Storage;

/// <summary>
/// The queries the silo stores for Orleans' ADO.NET grain storage, run as the provider runs them
/// (the text from <c>OrleansQuery</c>, its named parameters): a row's version is its ETag, a write or
/// clear at a stale one answers NULL / nothing (Orleans' InconsistentStateException), a cleared row
/// reads as none and a first write takes it, and the schema applies twice without harm.
/// </summary>
public sealed class PostgresGrainStorageQueryTests(PostgresServerFixture server) : IClassFixture<PostgresServerFixture>
{
    [Fact]
    public async Task WriteReadClearDelete_VersionIsTheETag_StaleWritesAnswerNoVersion()
    {
        var connectionString = await server.CreateDatabaseAsync();
        await PostgresGrainStorage.ApplySchemaAsync(connectionString, default);
        await PostgresGrainStorage.ApplySchemaAsync(connectionString, default);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();

        Assert.Equal(1, await WriteAsync(connection, null, [1]));
        Assert.Null(await WriteAsync(connection, null, [9]));      // a second first write
        Assert.Equal(2, await WriteAsync(connection, 1, [2]));
        Assert.Null(await WriteAsync(connection, 1, [9]));         // stale ETag
        Assert.Equal(([2], 2), await ReadAsync(connection));

        Assert.Equal(3, await ClearAsync(connection, "ClearStorageKey", 2));
        Assert.Null(await ClearAsync(connection, "ClearStorageKey", 2));
        Assert.Null(await ReadAsync(connection));                 // a cleared row reads as none
        Assert.Equal(4, await WriteAsync(connection, 3, [4]));
        Assert.Equal(5, await ClearAsync(connection, "ClearStorageKey", 4));
        Assert.Equal(6, await WriteAsync(connection, null, [6]));  // a first write takes a cleared row
        Assert.Equal(([6], 6), await ReadAsync(connection));

        Assert.Equal(7, await ClearAsync(connection, "DeleteStorageKey", 6));
        Assert.Null(await ReadAsync(connection));
        Assert.Equal(1, await WriteAsync(connection, null, [5]));
    }

    private static async Task<int?> WriteAsync(NpgsqlConnection connection, int? etag, byte[] payload)
    {
        await using var command = await CommandAsync(connection, "WriteToStorageKey", etag);
        command.Parameters.AddWithValue("PayloadBinary", payload);
        var result = await command.ExecuteScalarAsync();
        return result is DBNull or null ? null : (int)result;
    }

    private static async Task<int?> ClearAsync(NpgsqlConnection connection, string key, int etag)
    {
        await using var command = await CommandAsync(connection, key, etag);
        var result = await command.ExecuteScalarAsync();
        return result is DBNull or null ? null : (int)result;
    }

    private static async Task<(byte[]? Payload, int Version)?> ReadAsync(NpgsqlConnection connection)
    {
        await using var command = await CommandAsync(connection, "ReadFromStorageKey", null);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return null;
        }

        var payload = reader.IsDBNull(reader.GetOrdinal("PayloadBinary")) ? null : (byte[])reader["PayloadBinary"];
        return (payload, reader.GetInt32(reader.GetOrdinal("Version")));
    }

    // The stored text with the parameters Orleans' provider adds (the string key part is null for an integer-keyed grain).
    private static async Task<NpgsqlCommand> CommandAsync(NpgsqlConnection connection, string queryKey, int? etag)
    {
        await using var lookup = new NpgsqlCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = @key", connection);
        lookup.Parameters.AddWithValue("key", queryKey);
        var text = (string)(await lookup.ExecuteScalarAsync())!;
        var command = new NpgsqlCommand(text, connection);
        command.Parameters.AddWithValue("GrainIdHash", 17);
        command.Parameters.AddWithValue("GrainIdN0", 0L);
        command.Parameters.AddWithValue("GrainIdN1", 42L);
        command.Parameters.AddWithValue("GrainTypeHash", 23);
        command.Parameters.AddWithValue("GrainTypeString", "OrleansReplication.Grains.Examples.StoredShoppingCartGrain");
        command.Parameters.AddWithValue("GrainIdExtensionString", DBNull.Value);
        command.Parameters.AddWithValue("ServiceId", "orleans-replication");
        command.Parameters.AddWithValue("GrainStateVersion", etag is { } v ? v : DBNull.Value);
        return command;
    }
}
