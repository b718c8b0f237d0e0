namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>What the nemesis does to the cluster in one step.</summary>
public enum FaultKind
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
    /// The store down for a few seconds: PostgreSQL crashed (`pg_ctl stop -m immediate`) and started again; on SQLite, the file's
    /// write lock held by another process (a stalled writer). No healthy silo may be declared dead
    /// for heartbeats the outage held up, and nothing acknowledged may be lost.
    /// </summary>
    StoreOutage,

    /// <summary>
    /// SIGKILL of the quietest silo and a new process in its place, killed again while it catches
    /// up as a standby (a joiner must replace nothing until it has caught up), then a third.
    /// </summary>
    KillJoinerCatchingUp,

    /// <summary>
    /// SIGKILL of the quietest silo and a new process in its place; while it catches up, SIGKILL of
    /// the primary it catches up from: the in-sync standby must take over, never the joiner.
    /// </summary>
    KillPrimaryOfJoiner,
}

/// <summary>One fault: what, and for how long where that applies.</summary>
public sealed record Fault(FaultKind Kind, TimeSpan Pause)
{
    /// <summary>Whether the fault needs enough state that a catch-up takes a while to watch.</summary>
    public bool NeedsBallast => Kind is FaultKind.KillJoinerCatchingUp or FaultKind.KillPrimaryOfJoiner;

    /// <summary>How long the store is down (a StoreOutage).</summary>
    public TimeSpan Outage => Pause * 5;

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        FaultKind.PauseBriefly => $"{Kind} {Pause.TotalMilliseconds:0} ms",
        FaultKind.StoreOutage => $"{Kind} {Outage.TotalMilliseconds:0} ms",
        _ => Kind.ToString(),
    };
}

/// <summary>
/// A replayable list of faults on one store: the same seed gives the same store and the same
/// faults in the same order (the silo each hits is chosen by role when it runs: the busiest or
/// quietest primary at that moment, or one picked by the seed's own generator).
/// </summary>
public sealed record NemesisSchedule(int Seed, string Store, IReadOnlyList<Fault> Faults)
{
    /// <summary>The stores a schedule runs on.</summary>
    public static readonly string[] Stores = ["sqlite", "postgres"];

    // Well under Orleans' failure detection of a silo that stops answering (several seconds of
    // missed probes here): the pause must stall, not fail over.
    private static readonly TimeSpan MinPause = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan MaxPause = TimeSpan.FromMilliseconds(1500);

    /// <summary>The schedule of <paramref name="seed"/> on <paramref name="store"/> (null: the seed's parity picks it, odd = SQLite).</summary>
    public static NemesisSchedule FromSeed(int seed, string? store = null, int faults = 5)
    {
        store ??= Stores[seed % 2 == 0 ? 1 : 0];
        if (!Stores.Contains(store))
        {
            throw new ArgumentException($"Store '{store}' is not one of {string.Join(", ", Stores)}.", nameof(store));
        }

        var random = new Random(seed);
        var kinds = Enum.GetValues<FaultKind>().Where(k => store != "sqlite" || k != FaultKind.PauseUntilDeposed).ToArray();
        var list = new List<Fault>(faults);
        for (var i = 0; i < faults; i++)
        {
            var kind = kinds[random.Next(kinds.Length)];
            var pause = TimeSpan.FromMilliseconds(random.Next((int)MinPause.TotalMilliseconds, (int)MaxPause.TotalMilliseconds));
            list.Add(new Fault(kind, pause));
        }

        return new NemesisSchedule(seed, store, list);
    }

    /// <inheritdoc />
    public override string ToString() => $"seed {Seed} on {Store}: {string.Join(", ", Faults)}";

    /// <inheritdoc />
    public bool Equals(NemesisSchedule? other) => other is not null && Seed == other.Seed && Store == other.Store && Faults.SequenceEqual(other.Faults);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Seed, Store, Faults.Count);
}
