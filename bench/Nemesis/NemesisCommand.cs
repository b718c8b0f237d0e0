using System.Diagnostics;
using System.Globalization;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Testing.Processes.Nemesis;

namespace OrleansReplication.Bench.Nemesis;

/// <summary>
/// <c>bench nemesis</c>: the long run of the nemesis suite (issue 16). One line per schedule (its
/// seed replays it: <c>--first-seed S --schedules 1</c>), a failing schedule's violation with its
/// history excerpt, and a summary: violations, and per fault kind how long the writers stalled.
/// </summary>
internal static class NemesisCommand
{
    public static async Task<int> RunAsync(BenchSettings settings)
    {
        var seeds = Enumerable.Range(settings.FirstSeed, settings.Schedules).ToList();
        var schedules = seeds.Select(seed => NemesisSchedule.FromSeed(seed, settings.StorageGiven ? settings.Storage : null)).ToList();
        await using var postgres = schedules.Any(s => s.Store == "postgres") ? await PostgresServer.StartAsync(durable: true) : null;
        var runner = new NemesisRunner(postgres, line => Console.Error.WriteLine($"  {line}"));
        var outcomes = new List<NemesisOutcome>();
        var failed = new List<(NemesisSchedule Schedule, string Why)>();
        var clock = Stopwatch.StartNew();
        foreach (var schedule in schedules)
        {
            try
            {
                var outcome = await runner.RunAsync(schedule);
                outcomes.Add(outcome);
                Console.WriteLine(Line(outcome));
                if (!outcome.IsClean)
                {
                    failed.Add((schedule, outcome.Violation!));
                    Console.WriteLine(outcome.Violation);
                }
            }
            catch (NemesisHarnessException ex)
            {
                failed.Add((schedule, ex.Message));
                Console.WriteLine($"seed {schedule.Seed,5} {schedule.Store,-8} DID NOT RECOVER: {FirstLine(ex.Message)}");
                Console.Error.WriteLine(ex.Message);
            }
        }

        Console.WriteLine(Summary(outcomes, failed, clock.Elapsed));
        return failed.Count == 0 ? 0 : 1;
    }

    private static string Line(NemesisOutcome o) =>
        $"seed {o.Schedule.Seed,5} {o.Schedule.Store,-8} {(o.IsClean ? "clean" : "VIOLATION"),-9} {o.Elapsed.TotalSeconds,5:0} s {o.Acknowledged,6} acks  " +
        string.Join(", ", o.Faults.Select(f => $"{f.Fault} stall {f.LongestStall.TotalMilliseconds:0} ms"));

    // Every writer class's stalls per fault kind and store (the .NET Applied writers first: the figures quoted).
    private static IEnumerable<string> StallLines(List<NemesisOutcome> outcomes) =>
        from x in outcomes.SelectMany(o => o.Faults.SelectMany(f => f.Stalls.Select(s => (o.Schedule.Store, f.Fault.Kind, Class: s.Key, Stall: s.Value.TotalMilliseconds))))
        group x.Stall by (x.Kind, x.Store, x.Class) into g
        orderby g.Key.Kind, g.Key.Store, g.Key.Class == HistoryWriter.ClientApplied.Class ? 0 : 1, g.Key.Class
        let back = g.Order().ToList()
        select string.Create(CultureInfo.InvariantCulture,
            $"  {g.Key.Kind,-22} {g.Key.Store,-8} {g.Key.Class,-15} n={back.Count,3}  longest stall: median {Percentile(back, 0.5):0} ms, p90 {Percentile(back, 0.9):0} ms, max {back[^1]:0} ms");

    private static string Summary(List<NemesisOutcome> outcomes, List<(NemesisSchedule Schedule, string Why)> failed, TimeSpan elapsed)
    {
        var lines = new List<string>
        {
            $"nemesis: {outcomes.Count + failed.Count(f => !outcomes.Any(o => o.Schedule == f.Schedule))} schedules " +
            $"({string.Join(", ", NemesisSchedule.Stores.Select(s => $"{outcomes.Count(o => o.Schedule.Store == s)} {s}"))}) in {elapsed.TotalMinutes:0} min: " +
            $"{outcomes.Count(o => o.IsClean)} clean, {outcomes.Sum(o => o.Report.LostWrites.Count)} acknowledged writes lost, " +
            $"{outcomes.Sum(o => o.Report.DuplicatedEffects.Count)} doubled, {outcomes.Sum(o => o.Report.NonLinearizableKeys.Count)} non-linearizable keys, " +
            $"{failed.Count(f => outcomes.All(o => o.Schedule != f.Schedule))} did not recover; {outcomes.Sum(o => o.Acknowledged)} writes acknowledged, {outcomes.Sum(o => o.Faults.Count)} faults",
        };
        lines.Add("  writes acknowledged per writer class: " + string.Join(", ", outcomes.SelectMany(o => o.AcknowledgedByClass).GroupBy(c => c.Key).Select(g => $"{g.Key} {g.Sum(c => c.Value)}")));
        if (failed.Count > 0)
        {
            lines.Add($"failing seeds (replay: --first-seed S --schedules 1): {string.Join(", ", failed.Select(f => $"{f.Schedule.Seed} ({f.Schedule.Store})"))}");
        }

        // Per fault kind, store and writer class: the longest any writer went without an acknowledgement.
        lines.AddRange(StallLines(outcomes));

        return string.Join(Environment.NewLine, lines);
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Floor(p * sorted.Count))];

    private static string FirstLine(string text)
    {
        var line = text.Split('\n')[0].Trim();
        return line.Length > 400 ? line[..400] : line;
    }
}
