using OrleansReplication.Bench.Measurement.History;

namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>What one fault did: what was hit, and how long the writers and the cluster took to recover.</summary>
/// <param name="Fault">The fault.</param>
/// <param name="What">What it hit, for the report (silo, its primaries, what happened).</param>
/// <param name="LongestStall">The longest any writer went without an acknowledgement from the fault's start until the cluster settled (a deliberate pause or outage included).</param>
/// <param name="Settled">From the fault's start until the cluster was balanced with in-sync standbys again.</param>
public sealed record FaultOutcome(Fault Fault, string What, TimeSpan LongestStall, TimeSpan Settled)
{
    /// <inheritdoc />
    public override string ToString() => $"{What}: longest writer stall {LongestStall.TotalMilliseconds:0} ms, settled after {Settled.TotalMilliseconds:0} ms";
}

/// <summary>One schedule's run: its faults, and the checker's verdict on the history.</summary>
/// <param name="Schedule">The schedule (its seed replays it).</param>
/// <param name="Faults">Each fault as it ran.</param>
/// <param name="Report">The checker's report.</param>
/// <param name="Acknowledged">Writes acknowledged in the run.</param>
/// <param name="Violation">Null when clean; else what was violated and the history excerpt that shows it.</param>
/// <param name="Elapsed">How long the schedule ran.</param>
public sealed record NemesisOutcome(NemesisSchedule Schedule, IReadOnlyList<FaultOutcome> Faults, HistoryReport Report, long Acknowledged, string? Violation, TimeSpan Elapsed)
{
    /// <summary>Whether nothing acknowledged was lost or doubled and every key was linearizable.</summary>
    public bool IsClean => Violation is null;
}
