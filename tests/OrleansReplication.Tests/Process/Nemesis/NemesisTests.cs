using System.Globalization;
using OrleansReplication.Testing.Processes.Nemesis;
using OrleansReplication.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansReplication.Tests.Processes.Nemesis;

/// <summary>
/// The nemesis suite's fixed-seed slice (issue 16; <see cref="NemesisRunner"/> runs it, and
/// <c>bench nemesis</c> the long run): three real silo processes on SQLite or PostgreSQL, writers
/// recording every operation, a seeded schedule of faults, then every key read back and the
/// history checked: nothing acknowledged lost, nothing applied twice, every key linearizable. A
/// failure names the seed, which replays the schedule.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class NemesisTests(ITestOutputHelper output, PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>
{
    /// <summary>
    /// The schedules: seeds 1-4 (two per store) in every test run; <c>NEMESIS_SCHEDULES=N</c> runs
    /// N more (from <c>NEMESIS_FIRST_SEED</c>, default 100), alternating SQLite and PostgreSQL.
    /// </summary>
    public static IEnumerable<object[]> Schedules()
    {
        var more = int.TryParse(Environment.GetEnvironmentVariable("NEMESIS_SCHEDULES"), CultureInfo.InvariantCulture, out var n) ? n : 0;
        var first = int.TryParse(Environment.GetEnvironmentVariable("NEMESIS_FIRST_SEED"), CultureInfo.InvariantCulture, out var f) ? f : 100;
        return new[] { 1, 2, 3, 4 }.Concat(Enumerable.Range(first, Math.Max(more, 0))).Select(seed => new object[] { seed });
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public async Task SeededFaultSchedule_NothingAcknowledgedLostOrDoubled_EveryKeyLinearizable(int seed)
    {
        var schedule = NemesisSchedule.FromSeed(seed);
        output.WriteLine(schedule.ToString());
        var outcome = await new NemesisRunner(postgres.Server, output.WriteLine).RunAsync(schedule);
        Assert.True(outcome.Report.Operations > 0, $"Schedule {schedule} recorded no operations.");
        Assert.True(outcome.IsClean, $"{outcome.Violation}{Environment.NewLine}Schedule {schedule}; ran: {string.Join("; ", outcome.Faults)}.");

        // Every kind of writer was heard through the faults: .NET and HTTP, Applied and Durable.
        Assert.Equal(HistoryWriter.NemesisMix().Select(w => w.Class).ToHashSet(), outcome.AcknowledgedByClass.Keys.ToHashSet());
        Assert.All(outcome.AcknowledgedByClass, c => Assert.True(c.Value >= 5 * 20, $"{c.Key} writers had only {c.Value} writes acknowledged"));
    }

    [Fact]
    public void Seed_ReplaysTheSameSchedule_OnBothStores()
    {
        for (var seed = 1; seed <= 50; seed++)
        {
            Assert.Equal(NemesisSchedule.FromSeed(seed), NemesisSchedule.FromSeed(seed));
        }

        var kinds = Enumerable.Range(1, 200).SelectMany(seed => NemesisSchedule.FromSeed(seed).Faults.Select(f => f.Kind)).ToHashSet();
        Assert.Equal(Enum.GetValues<FaultKind>().ToHashSet(), kinds);
        Assert.DoesNotContain(Enumerable.Range(1, 200).Where(s => s % 2 == 1), seed => NemesisSchedule.FromSeed(seed).Faults.Any(f => f.Kind == FaultKind.PauseUntilDeposed));
        Assert.Equal("sqlite", NemesisSchedule.FromSeed(7).Store);
        Assert.Equal("postgres", NemesisSchedule.FromSeed(8).Store);
    }
}
