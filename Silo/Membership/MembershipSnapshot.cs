namespace OrleansReplication.Silo.Membership;

/// <summary>An immutable view of the membership table, refreshed on every read of the table.</summary>
/// <param name="Version">Increases when a silo's status or identity changes (local to this silo); heartbeats alone keep it.</param>
/// <param name="Silos">Every known incarnation, dead ones included, ordered by silo id then incarnation.</param>
internal sealed record MembershipSnapshot(long Version, IReadOnlyList<SiloRecord> Silos)
{
    public static MembershipSnapshot Empty { get; } = new(0, []);

    /// <summary>The silos that may hold partitions: Active ones (Joining and ShuttingDown ones take none).</summary>
    public IReadOnlyList<SiloRecord> Active => [.. Silos.Where(s => s.Status == SiloStatus.Active)];

    /// <summary>Whether <paramref name="silo"/> is known and not dead.</summary>
    public bool IsAlive(SiloIncarnation silo) => Silos.Any(s => s.Address == silo && s.Status != SiloStatus.Dead);
}
