using OrleansReplication.Bench.Measurement.History;

namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>What one fault did: what was hit, and how long the writers and the cluster took to recover.</summary>
/// <param name="Fault">The fault.</param>
/// <param name="What">What it hit, for the report (silo, its primaries, what happened).</param>
/// <param name="Stalls">
/// Per class of writer (<see cref="HistoryWriter.Class"/>), the longest any writer of it went
/// without an acknowledgement from the fault's start until the cluster settled (a deliberate pause
/// or outage included).
/// </param>
/// <param name="Settled">From the fault's start until the cluster was balanced with in-sync standbys again.</param>
public sealed record FaultOutcome(Fault Fault, string What, IReadOnlyDictionary<string, TimeSpan> Stalls, TimeSpan Settled)
{
    /// <summary>The longest stall of the .NET writers at <c>Applied</c>: the fault's unavailability as the figures quote it.</summary>
    public TimeSpan LongestStall => Stalls.GetValueOrDefault(HistoryWriter.ClientApplied.Class);

    /// <summary>Each class's longest stall, <c>client/applied 350 ms, http/durable 1200 ms</c>.</summary>
    public string DescribeStalls() => string.Join(", ", Stalls.Select(s => $"{s.Key} {s.Value.TotalMilliseconds:0} ms"));

    /// <inheritdoc />
    public override string ToString() => $"{What}: longest writer stall {DescribeStalls()}; settled after {Settled.TotalMilliseconds:0} ms";
}

/// <summary>One schedule's run: its faults, and the checker's verdict on the history.</summary>
/// <param name="Schedule">The schedule (its seed replays it).</param>
/// <param name="Faults">Each fault as it ran.</param>
/// <param name="Report">The checker's report.</param>
/// <param name="Acknowledged">Writes acknowledged in the run.</param>
/// <param name="AcknowledgedByClass">Writes acknowledged per class of writer (<see cref="HistoryWriter.Class"/>).</param>
/// <param name="Violation">Null when clean; else what was violated and the history excerpt that shows it.</param>
/// <param name="Elapsed">How long the schedule ran.</param>
public sealed record NemesisOutcome(NemesisSchedule Schedule, IReadOnlyList<FaultOutcome> Faults, HistoryReport Report, long Acknowledged, IReadOnlyDictionary<string, long> AcknowledgedByClass, string? Violation, TimeSpan Elapsed)
{
    /// <summary>Whether nothing acknowledged was lost or doubled and every key was linearizable.</summary>
    public bool IsClean => Violation is null;
}
