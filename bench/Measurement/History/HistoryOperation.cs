namespace OrleansReplication.Bench.Measurement.History;

/// <summary>What a client did to one key.</summary>
public enum OperationKind
{
    /// <summary>An unconditional write of a unique value.</summary>
    Write,

    /// <summary>A read of the key's current value and version.</summary>
    Read,
}

/// <summary>How an operation ended, as Jepsen names it.</summary>
public enum OperationOutcome
{
    /// <summary>Invoked and not completed yet (treated like <see cref="Timeout"/> by the checker).</summary>
    Pending,

    /// <summary>Acknowledged: it took effect, with the returned version.</summary>
    Ok,

    /// <summary>Definitely not applied (e.g. rejected before reaching a primary).</summary>
    Fail,

    /// <summary>Unknown (timeout, lost connection): it may or may not have taken effect, at any time after its invocation.</summary>
    Timeout,
}

/// <summary>
/// One operation of a history. A write's <see cref="Value"/> is unique across the history, so
/// its effects can be recognized; a read's <see cref="Value"/> is what it saw (<see langword="null"/>: absent).
/// Times are in any monotonic unit (e.g. <see cref="System.Diagnostics.Stopwatch"/> ticks).
/// </summary>
/// <param name="Id">Unique within the history.</param>
/// <param name="Process">The client that issued it (a client issues one operation at a time).</param>
/// <param name="Key">The key (register) it touched.</param>
/// <param name="Kind">Write or read.</param>
/// <param name="Value">The written value, or the value read.</param>
/// <param name="Version">The version the write was acknowledged with, or the read saw; 0 when unknown or absent.</param>
/// <param name="Invoked">When the client sent it.</param>
/// <param name="Completed">When the client got its answer; <see cref="long.MaxValue"/> while pending or after a timeout.</param>
/// <param name="Outcome">How it ended.</param>
public sealed record HistoryOperation(
    long Id,
    int Process,
    string Key,
    OperationKind Kind,
    string? Value,
    long Version,
    long Invoked,
    long Completed,
    OperationOutcome Outcome)
{
    /// <summary>Whether the operation may have taken effect without the client knowing (timeout or still pending).</summary>
    public bool IsIndeterminate => Outcome is OperationOutcome.Timeout or OperationOutcome.Pending;
}
