using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Storage;

/// <summary>Checks and conversions of <c>or_silos</c> rows shared by the providers, so both accept and return the same.</summary>
internal static class MembershipRows
{
    /// <summary>Throws when <paramref name="silo"/> could not be stored as the NOT NULL row the table holds.</summary>
    public static void ValidateJoin(SiloRecord silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ValidateAddress(silo.Address);
        ValidateStatus(silo.Status, nameof(silo));
        if (silo.SiloEndpoint is null || silo.GatewayEndpoint is null || silo.HttpEndpoint is null || silo.Zone is null || silo.Host is null || silo.Rack is null)
        {
            throw new ArgumentException($"Silo {silo.Address} cannot join: an endpoint or placement attribute is null. Use \"\" for an unknown zone, host or rack.", nameof(silo));
        }
    }

    /// <summary>Throws when <paramref name="address"/> is not a usable key (a default <see cref="SiloIncarnation"/>).</summary>
    public static void ValidateAddress(SiloIncarnation address)
    {
        if (string.IsNullOrEmpty(address.SiloId))
        {
            throw new ArgumentException($"Silo address '{address}' has no silo id (a default SiloIncarnation?).", nameof(address));
        }
    }

    /// <summary>Throws when <paramref name="status"/> is not a defined <see cref="SiloStatus"/>.</summary>
    public static void ValidateStatus(SiloStatus status, string parameterName)
    {
        if (!Enum.IsDefined(status))
        {
            throw new ArgumentOutOfRangeException(parameterName, status, $"Silo status {(int)status} is not one of {string.Join(", ", Enum.GetNames<SiloStatus>())}.");
        }
    }

    /// <summary>Reads a stored status, failing loudly on a value no silo writes.</summary>
    public static SiloStatus ParseStatus(int stored, string siloId, long incarnation, string database)
    {
        var status = (SiloStatus)stored;
        if (Enum.IsDefined(status))
        {
            return status;
        }

        throw new InvalidOperationException(
            $"or_silos row '{siloId}@{incarnation}' in database '{database}' has status {stored}, which is none of {string.Join(", ", Enum.GetValues<SiloStatus>().Select(s => $"{(int)s} {s}"))}. Fix the row (4 marks it Dead) or delete it; membership cannot judge that silo until then.");
    }

    /// <summary>Reads one row of <c>SELECT silo_id, incarnation, status, silo_endpoint, gateway_endpoint, http_endpoint, zone, host, rack, i_am_alive, free_memory, partitions</c>.</summary>
    public static SiloRecord Read(System.Data.Common.DbDataReader reader, string database)
    {
        var address = new SiloIncarnation(reader.GetString(0), reader.GetInt64(1));
        return new SiloRecord(
            address,
            ParseStatus(reader.GetInt32(2), address.SiloId, address.Incarnation, database),
            reader.GetString(3),
            reader.GetString(4),
            reader.GetString(5),
            reader.GetString(6),
            reader.GetString(7),
            reader.GetString(8),
            reader.GetInt64(9),
            reader.GetInt64(10),
            reader.GetInt32(11));
    }
}
