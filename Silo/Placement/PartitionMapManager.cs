using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Keeps the partition map in step with membership. Every silo runs one (co-controllers, no
/// coordinator): each computes the same deterministic plan from the same snapshot, and the
/// store's compare-and-swap lets exactly one writer win each row; the others re-read.
/// </summary>
internal sealed partial class PartitionMapManager(IPartitionMapStore store, IOptions<PlacementOptions> options, ILogger<PartitionMapManager> logger, ClusterEventChannel? events = null, MembershipService? membershipService = null)
{
    // Standby moves per reconciliation: a joining silo takes on its share gradually, so catch-up
    // traffic never floods it or the primaries.
    private const int MaxStandbyMovesPerRound = 4;

    // Primary handoffs per round: each makes a standby promote itself, so a few at a time keep
    // the pause of each promotion from stacking up.
    private const int MaxHandoffsPerRound = 2;

    private readonly ILogger _logger = logger;

    // Partitions this silo handed off gracefully, until the refresh that publishes the event.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _handoffs = new();
    private readonly PlacementOptions _options = options.Value;
    private readonly Lock _refreshLock = new();
    private volatile PartitionMap _current = PartitionMap.Empty;
    private int _written;

    public PartitionMap Current => _current;

    /// <summary>Whether this silo changed the map since the last call (then peers should be told).</summary>
    public bool TakeWritten() => Interlocked.Exchange(ref _written, 0) != 0;

    /// <summary>Reads the map from the store; a change of primary since the last read goes out as a cluster event.</summary>
    public async Task<PartitionMap> RefreshAsync(int partitionCount, CancellationToken cancellationToken)
    {
        var rows = await store.ReadPartitionMapAsync(cancellationToken).ConfigureAwait(false);
        var map = PartitionMap.From(partitionCount, rows);
        lock (_refreshLock)
        {
            // Two refreshes may race (map loop, drain): keep the newer view per the row versions.
            var previous = _current;
            if (previous.Assignments.Count == map.Assignments.Count && Older(map, previous))
            {
                return previous;
            }

            _current = map;
            PublishPrimaryChanges(previous, map);
        }

        return map;
    }

    private bool IsDraining(SiloIncarnation silo) =>
        membershipService?.Current.Silos.Any(s => s.Address == silo && s.Status == SiloStatus.ShuttingDown) == true;

    private static bool Older(PartitionMap map, PartitionMap than)
    {
        for (var p = 0; p < map.Assignments.Count; p++)
        {
            if ((map[p]?.Version ?? 0) < (than[p]?.Version ?? 0))
            {
                return true;
            }
        }

        return false;
    }

    private void PublishPrimaryChanges(PartitionMap before, PartitionMap after)
    {
        if (events is null || before.Assignments.Count != after.Assignments.Count)
        {
            return;
        }

        for (var p = 0; p < after.Assignments.Count; p++)
        {
            if (before[p] is not { Primary: { } old } was || after[p] is not { Primary: { } now } row || old == now)
            {
                continue;
            }

            // "Promote the buddy, demote the primary": the old primary is still in the group (balancing)
            // or was a standby of it and is alive (drain); a death leaves it out of the group.
            // The silo that handed off knows it did; a peer knows the old primary is draining.
            var handedOff = was.Standbys.Contains(now) && (row.Standbys.Contains(old) || _handoffs.TryRemove(p, out _) || IsDraining(old));
            if (handedOff)
            {
                events.Publish(ClusterEventKinds.PartitionHandedOff, now.ToString(), p, row.Epoch, $"Partition {p} handed off from {old} to its in-sync standby {now}.");
            }
            else
            {
                events.Publish(ClusterEventKinds.PartitionPromoted, now.ToString(), p, row.Epoch, $"Partition {p} failed over from {old} to {now}{(was.Standbys.Contains(now) ? ", its standby (promoted from its warm copy)" : string.Empty)}.");
            }
        }
    }

    /// <summary>
    /// One reconciliation: assigns unassigned partitions and repairs or rebalances standbys for
    /// the live silos of <paramref name="membership"/>. Returns the map after it.
    /// </summary>
    public async Task<PartitionMap> ReconcileAsync(int partitionCount, MembershipSnapshot membership, CancellationToken cancellationToken)
    {
        var active = membership.Active;
        if (active.Count == 0)
        {
            // Every live silo is draining (the last other one was stopped after a drain): a
            // draining silo leading is better than partitions with no primary at all.
            active = [.. membership.Silos.Where(s => s.Status == SiloStatus.ShuttingDown)];
        }

        var map = await RefreshAsync(partitionCount, cancellationToken).ConfigureAwait(false);
        if (active.Count == 0)
        {
            return map;
        }

        var changes = new List<PartitionAssignment>();
        if (!map.IsComplete)
        {
            var initial = PlacementPolicy.Initial(partitionCount, active, _options);
            changes.AddRange(initial.Where(a => map[a.PartitionId] is null));
        }

        var assigned = map.Assignments.Where(a => a is not null).Select(a => a!).ToList();
        // A draining silo still leads its partitions until it hands them off: only gone ones fail
        // over (MembershipSnapshot.IsGone: a silo that started after this silo last read the table,
        // whose map-change nudge can arrive first, is not gone either).
        var failovers = PlacementPolicy.PlanFailover(assigned, active, membership);
        changes.AddRange(failovers);

        // Standbys are planned on the map as it will be once the failovers are written.
        var after = assigned.ToDictionary(a => a.PartitionId);
        foreach (var f in failovers)
        {
            after[f.PartitionId] = f;
        }

        foreach (var standbyChange in PlacementPolicy.PlanStandbys([.. after.Values], active, _options, MaxStandbyMovesPerRound, membership))
        {
            // A row both failed over and repaired is written once, with the repair's standbys.
            var index = changes.FindIndex(c => c.PartitionId == standbyChange.PartitionId);
            if (index >= 0)
            {
                changes[index] = standbyChange with { Version = changes[index].Version };
            }
            else
            {
                changes.Add(standbyChange);
            }
        }

        // Each row is its own compare-and-swap: the order among them does not matter.
        var lost = 0;
        var written = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = store.ConcurrentUpdates, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(changes, parallel, async (change, ct) =>
        {
            if (await store.TryUpdateAssignmentAsync(change, ct).ConfigureAwait(false))
            {
                Volatile.Write(ref _written, 1);
                written[change.PartitionId] = true;
                LogAssigned(change.PartitionId, change.Epoch, change.Primary?.ToString() ?? "(none)", string.Join(", ", change.Standbys));
            }
            else
            {
                Interlocked.Increment(ref lost);
            }
        }).ConfigureAwait(false);

        if (lost > 0)
        {
            LogLostRaces(lost);
        }

        // The failovers this silo wrote (its peers may have raced it to some), one line per lost
        // primary and successor: a dead silo moves all its partitions at once.
        foreach (var moved in failovers.Where(f => written.ContainsKey(f.PartitionId)).GroupBy(f => (Old: map[f.PartitionId]?.Primary, Next: f.Primary)))
        {
            var seen = membership.Silos.FirstOrDefault(s => s.Address == moved.Key.Old);
            LogFailingOver(moved.Count(), string.Join(", ", moved.Select(f => f.PartitionId).Order()), moved.Key.Old?.ToString() ?? "(none)", seen is null ? "not in this silo's membership view" : seen.Status.ToString(), moved.Key.Next?.ToString() ?? "(none)");
        }

        return changes.Count > 0 ? await RefreshAsync(partitionCount, cancellationToken).ConfigureAwait(false) : map;
    }

    /// <summary>
    /// The primaries this silo leads that should move to in-sync standbys on silos below their
    /// share (balancing, a few per round). Only the primary knows which standbys are in sync, so
    /// only partitions it leads are planned; <see cref="GracefulHandoff"/> moves them.
    /// </summary>
    public IReadOnlyList<PartitionAssignment> PlanBalancingHandoffs(MembershipSnapshot membership, Func<int, SiloIncarnation, bool> isInSync)
    {
        var map = _current;
        return _options.BalancePrimaries && map.IsComplete
            ? PlacementPolicy.PlanPrimaryHandoffs([.. map.Assignments.Select(a => a!)], membership.Active, isInSync, MaxHandoffsPerRound)
            : [];
    }

    /// <summary>
    /// Drops the standbys that moves replaced, in the rows this silo leads, once their successors
    /// are in sync here (<see cref="PlacementPolicy.PlanStandbyRetirements"/>). Returns how many rows it wrote.
    /// </summary>
    public async Task<int> RetireReplacedStandbysAsync(SiloIncarnation self, Func<int, SiloIncarnation, bool> isInSync, CancellationToken cancellationToken)
    {
        var map = _current;
        if (!map.IsComplete)
        {
            return 0;
        }

        var written = 0;
        foreach (var row in PlacementPolicy.PlanStandbyRetirements([.. map.Assignments.Select(a => a!)], self, isInSync, _options))
        {
            if (await store.TryUpdateAssignmentAsync(row, cancellationToken).ConfigureAwait(false))
            {
                Volatile.Write(ref _written, 1);
                written++;
                LogAssigned(row.PartitionId, row.Epoch, row.Primary?.ToString() ?? "(none)", string.Join(", ", row.Standbys));
            }
        }

        return written;
    }

    /// <summary>
    /// The row of a drain: <paramref name="current"/>'s primary moves to its standby <paramref name="target"/>
    /// at epoch + 1 and the old primary leaves the buddy group (placement refills it).
    /// </summary>
    public static PartitionAssignment DrainRow(PartitionAssignment current, SiloIncarnation target) => current with
    {
        Version = current.Version + 1,
        Epoch = current.Epoch + 1,
        Primary = target,
        Standbys = [.. current.Standbys.Where(s => s != target)],
    };

    /// <summary>Writes a handoff's row <paramref name="next"/> (compare-and-swap); false when another writer changed the row first.</summary>
    public async Task<bool> TryHandOffAsync(PartitionAssignment next, CancellationToken cancellationToken)
    {
        _handoffs[next.PartitionId] = true;
        if (!await store.TryUpdateAssignmentAsync(next, cancellationToken).ConfigureAwait(false))
        {
            _handoffs.TryRemove(next.PartitionId, out _);
            return false;
        }

        Volatile.Write(ref _written, 1);
        LogHandedOff(next.PartitionId, next.Epoch, next.Primary?.ToString() ?? "(none)");

        // This silo's view follows its own move at once: its redirects and placements go to the
        // new primary now, not after its next read of the map.
        lock (_refreshLock)
        {
            var previous = _current;
            if (next.PartitionId < previous.Assignments.Count && (previous[next.PartitionId]?.Version ?? 0) < next.Version)
            {
                var rows = previous.Assignments.ToArray();
                rows[next.PartitionId] = next;
                _current = new PartitionMap(rows);
                PublishPrimaryChanges(previous, _current);
            }
        }

        return true;
    }

    [LoggerMessage(EventId = LogEvents.PartitionHandedOff, Level = LogLevel.Debug, Message = "Partition {Partition} handed off to its in-sync standby {Primary} at epoch {Epoch} (balancing primaries, or draining this silo).")]
    private partial void LogHandedOff(int partition, long epoch, string primary);

    [LoggerMessage(EventId = LogEvents.PartitionFailingOver, Level = LogLevel.Warning, Message = "{Count} partitions ({Partitions}): their primary {Primary} is {Seen} here; moved them to {Next}, at the next epoch each.")]
    private partial void LogFailingOver(int count, string partitions, string primary, string seen, string next);

    [LoggerMessage(EventId = LogEvents.PartitionAssigned, Level = LogLevel.Debug, Message = "Partition {Partition} assigned at epoch {Epoch}: primary {Primary}, standbys [{Standbys}].")]
    private partial void LogAssigned(int partition, long epoch, string primary, string standbys);

    [LoggerMessage(EventId = LogEvents.PartitionMapRace, Level = LogLevel.Debug, Message = "{Count} partition map changes were made first by another silo; re-read the map.")]
    private partial void LogLostRaces(int count);
}
