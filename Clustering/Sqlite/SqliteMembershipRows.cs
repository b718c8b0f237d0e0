using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Orleans;
using Orleans.Runtime;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>How a <see cref="MembershipEntry"/> is stored in a row of <c>orleans_membership</c> and read back.</summary>
internal static class SqliteMembershipRows
{
    /// <summary>The member columns every read selects, in the order <see cref="Read"/> expects them after the version.</summary>
    public const string Columns =
        "m.silo_address, m.etag, m.status, m.proxy_port, m.host_name, m.silo_name, m.role_name, m.update_zone, m.fault_zone, m.suspect_times, m.start_time, m.i_am_alive_time";

    /// <summary>Binds every stored field of <paramref name="entry"/> to the command's parameters of the same names.</summary>
    public static void Bind(SqliteCommand command, MembershipEntry entry)
    {
        command.Parameters.AddWithValue("$silo", entry.SiloAddress.ToParsableString());
        command.Parameters.AddWithValue("$status", (int)entry.Status);
        command.Parameters.AddWithValue("$proxyPort", entry.ProxyPort);
        command.Parameters.AddWithValue("$hostName", (object?)entry.HostName ?? DBNull.Value);
        command.Parameters.AddWithValue("$siloName", (object?)entry.SiloName ?? DBNull.Value);
        command.Parameters.AddWithValue("$roleName", (object?)entry.RoleName ?? DBNull.Value);
        command.Parameters.AddWithValue("$updateZone", entry.UpdateZone);
        command.Parameters.AddWithValue("$faultZone", entry.FaultZone);
        command.Parameters.AddWithValue("$suspectTimes", (object?)EncodeSuspectTimes(entry.SuspectTimes) ?? DBNull.Value);
        command.Parameters.AddWithValue("$lastVoteTime", entry.SuspectTimes is { Count: > 0 } votes ? votes.Max(vote => ToTicks(vote.Item2)) : 0L);
        command.Parameters.AddWithValue("$startTime", ToTicks(entry.StartTime));
        command.Parameters.AddWithValue("$iAmAliveTime", ToTicks(entry.IAmAliveTime));
    }

    /// <summary>Reads the member at <paramref name="first"/> (its <see cref="Columns"/>) and its etag; null when the row has no member (an outer join's empty side).</summary>
    public static Tuple<MembershipEntry, string>? Read(SqliteDataReader reader, int first)
    {
        if (reader.IsDBNull(first))
        {
            return null;
        }

        var entry = new MembershipEntry
        {
            SiloAddress = SiloAddress.FromParsableString(reader.GetString(first)),
            Status = (SiloStatus)reader.GetInt32(first + 2),
            ProxyPort = reader.GetInt32(first + 3),
            HostName = NullableString(reader, first + 4)!,
            SiloName = NullableString(reader, first + 5)!,
            RoleName = NullableString(reader, first + 6),
            UpdateZone = reader.GetInt32(first + 7),
            FaultZone = reader.GetInt32(first + 8),
            SuspectTimes = DecodeSuspectTimes(NullableString(reader, first + 9)),
            StartTime = FromTicks(reader.GetInt64(first + 10)),
            IAmAliveTime = FromTicks(reader.GetInt64(first + 11)),
        };
        return Tuple.Create(entry, reader.GetInt64(first + 1).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>UTC ticks of <paramref name="time"/>: a local time is converted, an unspecified one is taken as UTC (as Orleans does).</summary>
    public static long ToTicks(DateTime time) => time.Kind == DateTimeKind.Local ? time.ToUniversalTime().Ticks : time.Ticks;

    private static DateTime FromTicks(long ticks) => new(ticks, DateTimeKind.Utc);

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    // 'silo,ticks|silo,ticks': a parsable silo address ("ip:port@generation") holds neither ',' nor '|'.
    private static string? EncodeSuspectTimes(List<Tuple<SiloAddress, DateTime>>? suspectTimes)
    {
        if (suspectTimes is null)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var (silo, time) in suspectTimes)
        {
            text.Append(text.Length == 0 ? string.Empty : "|")
                .Append(silo.ToParsableString())
                .Append(',')
                .Append(ToTicks(time).ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    private static List<Tuple<SiloAddress, DateTime>>? DecodeSuspectTimes(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var suspectTimes = new List<Tuple<SiloAddress, DateTime>>();
        foreach (var vote in text.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = vote.LastIndexOf(',');
            var ticks = long.Parse(vote.AsSpan(comma + 1), NumberStyles.None, CultureInfo.InvariantCulture);
            suspectTimes.Add(Tuple.Create(SiloAddress.FromParsableString(vote[..comma]), FromTicks(ticks)));
        }

        return suspectTimes;
    }
}
