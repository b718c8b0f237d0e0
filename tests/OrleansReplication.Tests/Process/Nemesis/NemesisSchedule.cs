namespace OrleansReplication.Tests.Processes.Nemesis;

/// <summary>What the nemesis does to one silo.</summary>
internal enum FaultKind
{
    /// <summary>SIGKILL of the silo leading the most partitions, then a new process in its place.</summary>
    KillBusiestPrimary,

    /// <summary>SIGKILL of the silo leading the fewest partitions (mostly a standby), then a new process.</summary>
    KillQuietestSilo,

    /// <summary>SIGSTOP shorter than failure detection, then SIGCONT: the silo must come back as it was.</summary>
    PauseBriefly,

    /// <summary>SIGTERM (drain, then exit), then a new process: one step of a rolling restart.</summary>
    RestartGracefully,

    /// <summary>
    /// SIGSTOP of the busiest primary until the others declare it dead, then SIGCONT: it must learn
    /// it was deposed and stop, acknowledging nothing more; then a new process. Not on SQLite: a
    /// silo paused inside a transaction holds the shared file's write lock and stalls every silo.
    /// </summary>
    PauseUntilDeposed,

    /// <summary>
    /// The store (PostgreSQL) stopped for a few seconds and started again: no healthy silo may be
    /// declared dead for heartbeats the outage held up, and nothing acknowledged may be lost.
    /// </summary>
    StoreOutage,
}

/// <summary>One fault: what, and for how long where that applies.</summary>
internal sealed record Fault(FaultKind Kind, TimeSpan Pause)
{
    public override string ToString() => Kind switch
    {
        FaultKind.PauseBriefly => $"{Kind} {Pause.TotalMilliseconds:0} ms",
        FaultKind.StoreOutage => $"{Kind} {Outage.TotalMilliseconds:0} ms",
        _ => Kind.ToString(),
    };

    /// <summary>How long the store is down (a StoreOutage).</summary>
    public TimeSpan Outage => Pause * 5;
}

/// <summary>
/// A replayable list of faults: the same seed gives the same faults in the same order (the silo
/// each hits is chosen by role when it runs: the busiest or quietest primary at that moment).
/// </summary>
internal sealed record NemesisSchedule(int Seed, IReadOnlyList<Fault> Faults)
{
    // Well under Orleans' failure detection of a silo that stops answering (several seconds of
    // missed probes here): the pause must stall, not fail over.
    private static readonly TimeSpan MinPause = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan MaxPause = TimeSpan.FromMilliseconds(1500);

    public static NemesisSchedule FromSeed(int seed, int faults, bool sharedFileStore)
    {
        var random = new Random(seed);
        var kinds = Enum.GetValues<FaultKind>().Where(k => !sharedFileStore || k is not (FaultKind.PauseUntilDeposed or FaultKind.StoreOutage)).ToArray();
        var list = new List<Fault>(faults);
        for (var i = 0; i < faults; i++)
        {
            var kind = kinds[random.Next(kinds.Length)];
            var pause = TimeSpan.FromMilliseconds(random.Next((int)MinPause.TotalMilliseconds, (int)MaxPause.TotalMilliseconds));
            list.Add(new Fault(kind, pause));
        }

        return new NemesisSchedule(seed, list);
    }

    public override string ToString() => $"seed {Seed}: {string.Join(", ", Faults)}";
}
