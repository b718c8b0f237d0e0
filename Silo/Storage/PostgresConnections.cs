using Npgsql;

namespace OrleansReplication.Silo.Storage;

/// <summary>The pieces every PostgreSQL class builds its statements from.</summary>
/// <remarks>
/// Typed, positional parameters ($1, $2, ...): no boxing, no SQL rewriting, and the types the
/// columns expect, so a statement never depends on Npgsql guessing a type from a CLR value.
/// </remarks>
internal static class PostgresConnections
{
    /// <summary>Creates the pooled data source one store owns (and disposes).</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>One statement of an <see cref="NpgsqlBatch"/>.</summary>
    public static NpgsqlBatchCommand Statement(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    /// <summary>An INT parameter.</summary>
    public static NpgsqlParameter<int> Int(int value) => new() { TypedValue = value };

    /// <summary>A BIGINT parameter.</summary>
    public static NpgsqlParameter<long> Long(long value) => new() { TypedValue = value };

    /// <summary>A TEXT parameter; <see langword="null"/> is sent as SQL NULL.</summary>
    public static NpgsqlParameter<string> Text(string? value) => new() { TypedValue = value };

    /// <summary>A BYTEA parameter.</summary>
    public static NpgsqlParameter<byte[]> Bytes(byte[] value) => new() { TypedValue = value };
}
