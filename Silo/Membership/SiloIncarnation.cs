using System.Globalization;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// One incarnation of a silo: its id and its start time in Unix milliseconds. A restarted silo
/// keeps its id but is a new incarnation, with no warm state: the partition map names
/// incarnations so a restart is never mistaken for the silo that held the data.
/// Text form <c>id@incarnation</c>; ids hold no '@' or whitespace.
/// </summary>
internal readonly record struct SiloIncarnation(string SiloId, long Incarnation)
{
    public override string ToString() => SiloId + "@" + Incarnation.ToString(CultureInfo.InvariantCulture);

    public static SiloIncarnation Parse(string text) => TryParse(text, out var address)
        ? address
        : throw new FormatException($"'{text}' is not a silo address 'id@incarnation'.");

    public static bool TryParse(string? text, out SiloIncarnation address)
    {
        address = default;
        var at = text?.LastIndexOf('@') ?? -1;
        if (at <= 0 || !long.TryParse(text.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var incarnation))
        {
            return false;
        }

        address = new SiloIncarnation(text![..at], incarnation);
        return true;
    }
}
