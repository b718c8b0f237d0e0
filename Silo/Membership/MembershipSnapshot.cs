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

    /// <summary>
    /// Whether <paramref name="silo"/> is known to be gone: dead, or absent from this view though
    /// older than an incarnation it holds (a newer one started after this view was read: not gone).
    /// Joining, draining and not-yet-described silos are not gone: they may hold a partition's copy.
    /// </summary>
    public bool IsGone(SiloIncarnation silo)
    {
        var newest = long.MinValue;
        foreach (var s in Silos)
        {
            if (s.Address == silo)
            {
                return s.Status == SiloStatus.Dead;
            }

            newest = Math.Max(newest, s.Address.Incarnation);
        }

        return Silos.Count > 0 && silo.Incarnation <= newest;
    }
}
