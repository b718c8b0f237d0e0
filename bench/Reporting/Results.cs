using System.Globalization;
using System.Text.Json;

namespace OrleansReplication.Bench.Reporting;

/// <summary>One measured run (or a median over runs) of one system and workload.</summary>
internal sealed record RunFigures(string System, string Workload, string? Safety, string Kind, IReadOnlyDictionary<string, double> Figures)
{
    /// <summary>The summary line, e.g. <c>system=orleans-replication workload=w1 safety=applied ops_per_s=N ...</c>.</summary>
    public string Line =>
        $"system={System} workload={Workload}{(Safety is null ? string.Empty : " safety=" + Safety)} " +
        string.Join(' ', Figures.Select(f => $"{f.Key}={Format(f.Value)}"));

    private static string Format(double value) =>
        Math.Abs(value) >= 100 || value == Math.Floor(value) ? Math.Round(value).ToString("0", CultureInfo.InvariantCulture) : value.ToString("0.##", CultureInfo.InvariantCulture);
}

/// <summary>Every run and every printed summary of one invocation, written as JSON at the end (and after each workload, so a crash keeps what was measured).</summary>
internal sealed class Results(BenchSettings settings)
{
    private readonly List<RunFigures> _runs = [];
    private readonly List<RunFigures> _summaries = [];

    public void AddRun(RunFigures run) => _runs.Add(run);

    /// <summary>Prints the summary line and keeps it.</summary>
    public void Summarize(RunFigures summary)
    {
        _summaries.Add(summary);
        Console.WriteLine(summary.Line);
    }

    /// <summary>The median of each figure over <paramref name="runs"/>.</summary>
    public static Dictionary<string, double> Median(IReadOnlyList<RunFigures> runs) =>
        runs[0].Figures.Keys.ToDictionary(k => k, k =>
        {
            var values = runs.Select(r => r.Figures[k]).Order().ToList();
            return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
        });

    public void Save()
    {
        var document = new
        {
            machine = new
            {
                cores = Environment.ProcessorCount,
                os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                cpu = CpuModel(),
            },
            command = Environment.GetCommandLineArgs(),
            settings = new { settings.Command, settings.Runs, warmupSeconds = settings.Warmup.TotalSeconds, durationSeconds = settings.Duration.TotalSeconds, settings.Concurrency, settings.Keys, settings.Storage, settings.Peer },
            finishedUtc = DateTime.UtcNow,
            summaries = _summaries,
            runs = _runs,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(settings.Output)!);
        File.WriteAllText(settings.Output, JsonSerializer.Serialize(document, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
    }

    public static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
