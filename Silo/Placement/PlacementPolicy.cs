using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Decides the partition map: pure and deterministic (same inputs, same map on every silo), so
/// any silo may compute a change and the store's compare-and-swap settles races. Every result
/// row has its version already raised; the caller writes it with <see cref="IPartitionMapStore"/>.
/// </summary>
internal static class PlacementPolicy
{
    /// <summary>A new cluster's map: primaries round-robin over the silos, standbys by cost.</summary>
    public static IReadOnlyList<PartitionAssignment> Initial(int partitionCount, IReadOnlyList<SiloRecord> silos, PlacementOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(partitionCount);
        if (silos.Count == 0)
        {
            throw new ArgumentException("No live silo to place partitions on.", nameof(silos));
        }

        var ordered = silos.OrderBy(s => s.Address.SiloId, StringComparer.Ordinal).ThenBy(s => s.Address.Incarnation).ToList();
        var load = new LoadTable(ordered);
        var primaries = new SiloIncarnation[partitionCount];
        for (var p = 0; p < partitionCount; p++)
        {
            primaries[p] = ordered[p % ordered.Count].Address;
            load.Add(primaries[p]);
        }

        var map = new PartitionAssignment[partitionCount];
        for (var p = 0; p < partitionCount; p++)
        {
            var standbys = ChooseStandbys([primaries[p]], options.ReplicationFactor - 1, ordered, load, options);
            map[p] = new PartitionAssignment(p, Version: 1, Epoch: 1, primaries[p], standbys);
        }

        return map;
    }

    /// <summary>
    /// The standby a failover of <paramref name="assignment"/> promotes: the first of its row that
    /// is not gone (<paramref name="isGone"/>), whatever else it is doing (joining, draining, not
    /// yet described to this silo); null when every standby is gone. The primary acknowledges
    /// writes on the standbys only while this one is in sync (<c>ReplicationRouting</c>), and every
    /// silo promotes by this same rule: were a live standby skipped, the one promoted in its place
    /// (or the store, for a cold takeover) could lack writes the skipped one acknowledged.
    /// </summary>
    public static SiloIncarnation? PromotionCandidate(PartitionAssignment assignment, Func<SiloIncarnation, bool> isGone)
    {
        foreach (var standby in assignment.Standbys)
        {
            if (!isGone(standby))
            {
                return standby;
            }
        }

        return null;
    }

    // Who is gone: per the view when there is one, else whoever is not alive.
    private static Func<SiloIncarnation, bool> GoneIn(MembershipSnapshot? view, HashSet<SiloIncarnation> alive) =>
        view is null ? s => !alive.Contains(s) : view.IsGone;

    /// <summary>
    /// New primaries for partitions whose primary is gone: the <see cref="PromotionCandidate"/> is
    /// promoted (it holds a warm copy); with every standby gone, the least-loaded live silo takes
    /// the partition cold, from the store. Either way the epoch is raised, so the map's
    /// compare-and-swap claims it and the old primary is fenced. A primary that is not gone (e.g.
    /// draining, not <paramref name="live"/>) keeps its partitions: it hands them off itself,
    /// without failing a request. <paramref name="view"/> says who is gone (default: whoever is
    /// not <paramref name="live"/>).
    /// </summary>
    public static IReadOnlyList<PartitionAssignment> PlanFailover(IReadOnlyList<PartitionAssignment> map, IReadOnlyList<SiloRecord> live, MembershipSnapshot? view = null)
    {
        if (live.Count == 0)
        {
            return [];
        }

        var isGone = GoneIn(view, live.Select(s => s.Address).ToHashSet());
        var leads = live.ToDictionary(s => s.Address, _ => 0);
        foreach (var a in map)
        {
            if (a.Primary is { } p && leads.ContainsKey(p))
            {
                leads[p]++;
            }
        }

        var result = new List<PartitionAssignment>();
        foreach (var a in map.OrderBy(a => a.PartitionId))
        {
            if (a.Primary is { } primary && !isGone(primary))
            {
                continue;
            }

            var next = PromotionCandidate(a, isGone)
                ?? leads.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key.ToString(), StringComparer.Ordinal).First().Key;
            if (leads.ContainsKey(next))
            {
                leads[next]++;
            }

            result.Add(a with { Version = a.Version + 1, Epoch = a.Epoch + 1, Primary = next, Standbys = [.. a.Standbys.Where(s => s != next && !isGone(s))] });
        }

        return result;
    }

    /// <summary>
    /// Repairs and balances standbys: drops standbys that are gone, fills buddy groups up to the
    /// replication factor, then moves at most <paramref name="maxMoves"/> standbys from silos
    /// above their share to silos below it (a new silo takes on its share gradually). A standby
    /// that is not gone stays in its row even when it is not <paramref name="live"/>: it may be the
    /// one holding the acknowledged writes (<see cref="PromotionCandidate"/>). A draining one is
    /// replaced beside it, as a move (<see cref="PlanStandbyRetirements"/> drops it); one this view
    /// does not yet describe counts as a standby. Primaries are not touched. Returns only the rows
    /// that change. <paramref name="view"/> says who is gone and who drains (default: whoever is
    /// not <paramref name="live"/> is gone).
    /// </summary>
    public static IReadOnlyList<PartitionAssignment> PlanStandbys(IReadOnlyList<PartitionAssignment> map, IReadOnlyList<SiloRecord> live, PlacementOptions options, int maxMoves, MembershipSnapshot? view = null)
    {
        var ordered = live.OrderBy(s => s.Address.SiloId, StringComparer.Ordinal).ThenBy(s => s.Address.Incarnation).ToList();
        var alive = ordered.Select(s => s.Address).ToHashSet();
        var isGone = GoneIn(view, alive);
        var draining = view is null ? [] : view.Silos.Where(s => s.Status == SiloStatus.ShuttingDown).Select(s => s.Address).ToHashSet();
        var load = new LoadTable(ordered);
        var rows = map.ToDictionary(a => a.PartitionId);
        foreach (var a in map)
        {
            if (a.Primary is { } primary)
            {
                load.Add(primary);
            }

            foreach (var s in a.Standbys.Where(alive.Contains))
            {
                load.Add(s);
            }
        }

        var changed = new Dictionary<int, PartitionAssignment>();
        foreach (var a in map.OrderBy(a => a.PartitionId))
        {
            var keep = a.Standbys.Where(s => !isGone(s)).Distinct().ToList();
            var needed = options.ReplicationFactor - 1 - keep.Count(s => !draining.Contains(s));
            if (a.Primary is not { } primary || (keep.Count == a.Standbys.Count && needed <= 0))
            {
                continue;
            }

            var replicas = new List<SiloIncarnation> { primary };
            replicas.AddRange(keep);
            var added = needed > 0 ? ChooseStandbys(replicas, needed, ordered, load, options) : [];
            if (added.Count == 0 && keep.Count == a.Standbys.Count)
            {
                continue; // short of silos: nothing to change until one joins
            }

            var next = a with { Version = a.Version + 1, Standbys = [.. keep, .. added] };
            rows[a.PartitionId] = next;
            changed[a.PartitionId] = next;
        }

        for (var moves = 0; moves < maxMoves && TryMoveOneStandby(rows, ordered, load, options, out var moved); moves++)
        {
            changed[moved.PartitionId] = moved;
        }

        return [.. changed.Values.OrderBy(a => a.PartitionId)];
    }

    /// <summary>
    /// Primaries to hand off (seed 002 "promote the buddy, demote the primary"): while a silo leads
    /// more than its share and one of its partitions has an in-sync standby on a silo below its
    /// share, swap them (epoch + 1). At most <paramref name="maxMoves"/> rows.
    /// </summary>
    public static IReadOnlyList<PartitionAssignment> PlanPrimaryHandoffs(IReadOnlyList<PartitionAssignment> map, IReadOnlyList<SiloRecord> live, Func<int, SiloIncarnation, bool> isInSync, int maxMoves)
    {
        var alive = live.Select(s => s.Address).ToHashSet();
        var leads = live.ToDictionary(s => s.Address, _ => 0);
        foreach (var a in map)
        {
            if (a.Primary is { } p && leads.ContainsKey(p))
            {
                leads[p]++;
            }
        }

        var share = (int)Math.Ceiling((double)map.Count / Math.Max(1, live.Count));
        var rows = map.ToDictionary(a => a.PartitionId);
        var result = new List<PartitionAssignment>();
        while (result.Count < maxMoves)
        {
            var over = leads.Where(kv => kv.Value > share).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.ToString(), StringComparer.Ordinal).Select(kv => kv.Key).FirstOrDefault();
            if (over == default)
            {
                break;
            }

            PartitionAssignment? handoff = null;
            SiloIncarnation target = default;
            foreach (var a in rows.Values.Where(a => a.Primary == over).OrderBy(a => a.PartitionId))
            {
                var candidate = a.Standbys.Where(s => alive.Contains(s) && leads[s] < share && isInSync(a.PartitionId, s))
                    .OrderBy(s => leads[s]).ThenBy(s => s.ToString(), StringComparer.Ordinal).FirstOrDefault();
                if (candidate != default)
                {
                    handoff = a;
                    target = candidate;
                    break;
                }
            }

            if (handoff is null)
            {
                break;
            }

            var standbys = handoff.Standbys.Select(s => s == target ? over : s).ToList();
            var next = handoff with { Version = handoff.Version + 1, Epoch = handoff.Epoch + 1, Primary = target, Standbys = standbys };
            rows[next.PartitionId] = next;
            leads[over]--;
            leads[target]++;
            result.Add(next);
        }

        return result;
    }

    /// <summary>
    /// Standbys that a move replaced, to drop now that their successors caught up: a move adds the
    /// new standby beside the old one (<see cref="PlanStandbys"/>), so the partition keeps a standby
    /// holding every acknowledged write while the new one catches up; only the primary knows when it
    /// did (<paramref name="isInSync"/>), so only rows led by <paramref name="self"/> are planned.
    /// </summary>
    public static IReadOnlyList<PartitionAssignment> PlanStandbyRetirements(IReadOnlyList<PartitionAssignment> map, SiloIncarnation self, Func<int, SiloIncarnation, bool> isInSync, PlacementOptions options)
    {
        var result = new List<PartitionAssignment>();
        foreach (var a in map)
        {
            if (a.Primary != self || !IsMovingAStandby(a, options))
            {
                continue;
            }

            // The newest standbys stay (a move appends), once every one of them is in sync.
            var successors = SettledStandbys(a, options).ToList();
            if (successors.All(s => isInSync(a.PartitionId, s)))
            {
                result.Add(a with { Version = a.Version + 1, Standbys = successors });
            }
        }

        return result;
    }

    // A row with more standbys than the replication factor asks for is in the middle of a move.
    private static bool IsMovingAStandby(PartitionAssignment a, PlacementOptions options) => a.Standbys.Count > options.ReplicationFactor - 1;

    // The standbys a row keeps: all, or in the middle of a move its newest ones (the older ones
    // retire once those caught up).
    private static IEnumerable<SiloIncarnation> SettledStandbys(PartitionAssignment a, PlacementOptions options) =>
        a.Standbys.Skip(Math.Max(0, a.Standbys.Count - Math.Max(0, options.ReplicationFactor - 1)));

    private static bool TryMoveOneStandby(Dictionary<int, PartitionAssignment> rows, List<SiloRecord> silos, LoadTable load, PlacementOptions options, out PartitionAssignment moved)
    {
        moved = null!;
        if (silos.Count < 2)
        {
            return false;
        }

        var standbyCount = silos.ToDictionary(s => s.Address, _ => 0);
        foreach (var a in rows.Values)
        {
            foreach (var s in SettledStandbys(a, options).Where(standbyCount.ContainsKey))
            {
                standbyCount[s]++;
            }
        }

        var total = standbyCount.Values.Sum();
        var share = (int)Math.Ceiling((double)total / silos.Count);
        var under = silos.Where(s => standbyCount[s.Address] < share - 1).OrderBy(s => standbyCount[s.Address]).ThenBy(s => s.Address.ToString(), StringComparer.Ordinal).ToList();
        var over = silos.Where(s => standbyCount[s.Address] > share).OrderByDescending(s => standbyCount[s.Address]).ThenBy(s => s.Address.ToString(), StringComparer.Ordinal).ToList();
        foreach (var from in over)
        {
            // One move at a time per row: a row still moving keeps its old standby until the new one caught up.
            foreach (var a in rows.Values.Where(a => a.Standbys.Contains(from.Address) && !IsMovingAStandby(a, options)).OrderBy(a => a.PartitionId))
            {
                var others = a.Standbys.Where(s => s != from.Address).Append(a.Primary!.Value).ToList();
                var fromAffinity = AffinityCost(from, others, silos, options);
                foreach (var to in under)
                {
                    // Move only when it does not weaken anti-affinity (host, zone, rack).
                    if (others.Contains(to.Address) || AffinityCost(to, others, silos, options) > fromAffinity)
                    {
                        continue;
                    }

                    // Beside, not instead: the old standby holds every acknowledged write and stays
                    // first in line for promotion until the new one caught up (PlanStandbyRetirements).
                    moved = a with { Version = a.Version + 1, Standbys = [.. a.Standbys, to.Address] };
                    rows[a.PartitionId] = moved;
                    load.Remove(from.Address);
                    load.Add(to.Address);
                    return true;
                }
            }
        }

        return false;
    }

    private static List<SiloIncarnation> ChooseStandbys(List<SiloIncarnation> replicas, int needed, List<SiloRecord> silos, LoadTable load, PlacementOptions options)
    {
        var chosen = new List<SiloIncarnation>();
        var taken = new List<SiloIncarnation>(replicas);
        for (var i = 0; i < needed; i++)
        {
            var best = silos.Where(s => !taken.Contains(s.Address))
                .Select(s => (Silo: s, Cost: Cost(s, taken, silos, load, options)))
                .OrderBy(c => c.Cost).ThenBy(c => c.Silo.Address.ToString(), StringComparer.Ordinal)
                .FirstOrDefault();
            if (best.Silo is null)
            {
                break; // fewer silos than the replication factor: the group stays short until one joins
            }

            chosen.Add(best.Silo.Address);
            taken.Add(best.Silo.Address);
            load.Add(best.Silo.Address);
        }

        return chosen;
    }

    private static long Cost(SiloRecord candidate, List<SiloIncarnation> replicas, List<SiloRecord> silos, LoadTable load, PlacementOptions options) =>
        LoadCost(candidate, load, silos, options) + AffinityCost(candidate, replicas, silos, options);

    private static long AffinityCost(SiloRecord candidate, List<SiloIncarnation> replicas, List<SiloRecord> silos, PlacementOptions options)
    {
        long cost = 0;
        foreach (var replica in replicas)
        {
            var other = silos.FirstOrDefault(s => s.Address == replica);
            if (other is null)
            {
                continue;
            }

            cost += Same(candidate.Host, other.Host) ? options.SameHostCost : 0;
            cost += Same(candidate.Zone, other.Zone) ? options.SameZoneCost : 0;
            cost += Same(candidate.Rack, other.Rack) ? options.SameRackCost : 0;
        }

        return cost;
    }

    private static long LoadCost(SiloRecord candidate, LoadTable load, List<SiloRecord> silos, PlacementOptions options)
    {
        const long GiB = 1024L * 1024 * 1024;
        var roomiest = silos.Max(s => s.FreeMemoryBytes);
        return (load.Of(candidate.Address) * options.PerPartitionCost) + ((roomiest - candidate.FreeMemoryBytes) / GiB * options.PerGiBLessFreeMemoryCost);
    }

    // An unknown attribute ("") is shared with nobody: it says nothing about co-location.
    private static bool Same(string a, string b) => a.Length > 0 && string.Equals(a, b, StringComparison.Ordinal);

    /// <summary>Partitions (primary or standby) each silo carries, updated as choices are made.</summary>
    private sealed class LoadTable(IEnumerable<SiloRecord> silos)
    {
        private readonly Dictionary<SiloIncarnation, int> _counts = silos.ToDictionary(s => s.Address, _ => 0);

        public int Of(SiloIncarnation silo) => _counts.GetValueOrDefault(silo);

        public void Add(SiloIncarnation silo) => _counts[silo] = Of(silo) + 1;

        public void Remove(SiloIncarnation silo) => _counts[silo] = Math.Max(0, Of(silo) - 1);
    }
}
