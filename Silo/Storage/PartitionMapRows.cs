using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// The text form of <c>or_partition_map</c> rows shared by the providers: a silo is
/// <c>id@incarnation</c> (<see cref="SiloIncarnation.ToString"/>), standbys are joined by one space.
/// </summary>
internal static class PartitionMapRows
{
    private const char StandbySeparator = ' ';

    /// <summary>Throws when <paramref name="next"/> is not a row that could be stored and read back unchanged.</summary>
    public static void Validate(PartitionAssignment next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (next.PartitionId < 0)
        {
            throw new ArgumentException($"Partition map write for partition {next.PartitionId}: partition ids are never negative.", nameof(next));
        }

        if (next.Version < 1)
        {
            throw new ArgumentException($"Partition map write for partition {next.PartitionId}: version {next.Version} is below 1. The first assignment of a partition is version 1, every change adds 1.", nameof(next));
        }

        if (next.Epoch < 0)
        {
            throw new ArgumentException($"Partition map write for partition {next.PartitionId}: epoch {next.Epoch} is negative; epochs start at 0 and only go up.", nameof(next));
        }

        if (next.Standbys is null)
        {
            throw new ArgumentException($"Partition map write for partition {next.PartitionId}: Standbys is null; pass an empty list for a partition without standbys.", nameof(next));
        }

        if (next.Primary is { } primary)
        {
            ValidateSilo(next.PartitionId, primary, "primary");
        }

        foreach (var standby in next.Standbys)
        {
            ValidateSilo(next.PartitionId, standby, "standby");
        }
    }

    /// <summary>The primary_silo column: the address, or <see langword="null"/> for no primary.</summary>
    public static string? FormatPrimary(SiloIncarnation? primary) => primary?.ToString();

    /// <summary>The standbys column: the addresses joined by one space, "" for none.</summary>
    public static string FormatStandbys(IReadOnlyList<SiloIncarnation> standbys) => string.Join(StandbySeparator, standbys);

    /// <summary>Turns one stored row back into an assignment, failing loudly on a damaged row.</summary>
    /// <summary>Reads one row of <c>SELECT partition_id, version, epoch, primary_silo, standbys</c>.</summary>
    public static PartitionAssignment Read(System.Data.Common.DbDataReader reader, string database) => Parse(
        reader.GetInt32(0),
        reader.GetInt64(1),
        reader.GetInt64(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetString(4),
        database);

    private static PartitionAssignment Parse(int partitionId, long version, long epoch, string? primary, string standbys, string database)
    {
        var parsedPrimary = primary is null ? (SiloIncarnation?)null : ParseSilo(partitionId, primary, "primary_silo", database);
        var parsedStandbys = standbys.Length == 0
            ? []
            : standbys.Split(StandbySeparator).Select(s => ParseSilo(partitionId, s, "standbys", database)).ToArray();
        return new PartitionAssignment(partitionId, version, epoch, parsedPrimary, parsedStandbys);
    }

    private static SiloIncarnation ParseSilo(int partitionId, string text, string column, string database) => SiloIncarnation.TryParse(text, out var address)
        ? address
        : throw new InvalidOperationException(
            $"or_partition_map row of partition {partitionId} in database '{database}' has '{text}' in {column}, not a silo address 'id@incarnation' (standbys separated by one space). Fix the row, or delete it so placement assigns the partition afresh.");

    // The id must survive the text form: whitespace would split the standbys column, an '@' would be
    // read as the incarnation separator, and SiloIncarnation.Parse reads no sign, so a negative incarnation would not parse.
    private static void ValidateSilo(int partitionId, SiloIncarnation silo, string role)
    {
        if (string.IsNullOrEmpty(silo.SiloId) || silo.SiloId.Any(c => char.IsWhiteSpace(c) || c == '@') || silo.Incarnation < 0)
        {
            throw new ArgumentException(
                $"Partition map write for partition {partitionId}: {role} '{silo}' is not storable. A silo id is non-empty without whitespace or '@', and an incarnation is not negative.", "next");
        }
    }

    /// <summary>Reads <c>or_draining</c> rows (one text column); a row that is not a silo incarnation is skipped.</summary>
    public static async Task<IReadOnlySet<SiloIncarnation>> ReadDrainingAsync(System.Data.Common.DbDataReader reader, CancellationToken cancellationToken)
    {
        var draining = new HashSet<SiloIncarnation>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (SiloIncarnation.TryParse(reader.GetString(0), out var silo))
            {
                draining.Add(silo);
            }
        }

        return draining;
    }
}
