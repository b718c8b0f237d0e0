using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Testing.Processes.Nemesis;

namespace OrleansReplication.Tests.Processes;

/// <summary>The checker's verdict as an assertion: a failure names the violation and the history that shows it.</summary>
internal static class HistoryAssert
{
    public static void Clean(HistoryWorkload workload, HistoryReport report, string context)
    {
        Assert.True(report.Operations > 0, $"No operations were recorded.{context}");
        var violation = workload.Violations(report);
        Assert.True(violation is null, $"{violation}{context}");
    }
}
