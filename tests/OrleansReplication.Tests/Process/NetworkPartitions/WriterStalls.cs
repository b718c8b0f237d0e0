using System.Diagnostics;
using OrleansReplication.Bench.Measurement.History;

namespace OrleansReplication.Tests.Processes.NetworkPartitions;

/// <summary>What a fault cost the writers, read from the recorded history.</summary>
internal static class WriterStalls
{
    /// <summary>
    /// The longest time any writer went without an acknowledged write between <paramref name="from"/>
    /// and <paramref name="to"/> (<see cref="Stopwatch"/> timestamps), and how many writes in that
    /// window ended with an unknown outcome (timed out, connection lost).
    /// </summary>
    public static (TimeSpan Longest, int Unknown) Measure(IReadOnlyList<HistoryOperation> history, long from, long to)
    {
        var writes = history.Where(o => o.Kind == OperationKind.Write).ToList();
        var longest = TimeSpan.Zero;
        foreach (var writer in writes.GroupBy(o => o.Process))
        {
            var last = from;
            foreach (var done in writer.Where(o => o.Outcome == OperationOutcome.Ok && o.Completed > from && o.Completed <= to).Select(o => o.Completed).Order())
            {
                longest = Max(longest, Stopwatch.GetElapsedTime(last, done));
                last = done;
            }

            longest = Max(longest, Stopwatch.GetElapsedTime(last, to));
        }

        var unknown = writes.Count(o => o.Outcome == OperationOutcome.Timeout && o.Invoked >= from && o.Invoked <= to);
        return (longest, unknown);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
