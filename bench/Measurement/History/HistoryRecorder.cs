using System.Diagnostics;

namespace OrleansReplication.Bench.Measurement.History;

/// <summary>
/// Records every invoke and its ok / fail / timeout with <see cref="Stopwatch"/> timestamps, from
/// many client tasks at once (thread-safe; one lock per event, cheap next to a network round trip).
/// </summary>
public sealed class HistoryRecorder
{
    private readonly List<HistoryOperation> _operations = [];

    /// <summary>Records the invocation of an operation; pass the returned id to a completion method.</summary>
    public long Invoke(int process, string key, OperationKind kind, string? value = null)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_operations)
        {
            var id = _operations.Count;
            _operations.Add(new HistoryOperation(id, process, key, kind, value, 0, now, long.MaxValue, OperationOutcome.Pending));
            return id;
        }
    }

    /// <summary>The operation was acknowledged: a write with its new version, a read with what it saw.</summary>
    public void Ok(long id, long version, string? readValue = null) => Complete(id, OperationOutcome.Ok, version, readValue);

    /// <summary>The operation was definitely not applied.</summary>
    public void Fail(long id) => Complete(id, OperationOutcome.Fail, 0, null);

    /// <summary>The outcome is unknown (timeout, lost connection).</summary>
    public void Timeout(long id) => Complete(id, OperationOutcome.Timeout, 0, null);

    /// <summary>A copy of the history so far.</summary>
    public IReadOnlyList<HistoryOperation> Snapshot()
    {
        lock (_operations)
        {
            return [.. _operations];
        }
    }

    private void Complete(long id, OperationOutcome outcome, long version, string? readValue)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_operations)
        {
            var op = _operations[(int)id];
            if (op.Outcome != OperationOutcome.Pending)
            {
                throw new InvalidOperationException($"Operation {id} on '{op.Key}' was already completed as {op.Outcome}.");
            }

            _operations[(int)id] = op with
            {
                Outcome = outcome,
                Version = version,
                Value = op.Kind == OperationKind.Read ? readValue : op.Value,
                Completed = outcome == OperationOutcome.Timeout ? long.MaxValue : now,
            };
        }
    }
}
