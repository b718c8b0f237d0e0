using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Keeps the partition map in step with membership. Every silo runs one (co-controllers, no
/// coordinator): each computes the same deterministic plan from the same snapshot, and the
/// store's compare-and-swap lets exactly one writer win each row; the others re-read.
/// </summary>
internal sealed partial class PartitionMapManager(IPartitionMapStore store, IOptions<PlacementOptions> options, ILogger<PartitionMapManager> logger)
{
    // Standby moves per reconciliation: a joining silo takes on its share gradually, so catch-up
    // traffic never floods it or the primaries.
    private const int MaxStandbyMovesPerRound = 4;

    // Primary handoffs per round: each makes a standby promote itself, so a few at a time keep
    // the pause of each promotion from stacking up.
    private const int MaxHandoffsPerRound = 2;

    private readonly ILogger _logger = logger;
    private readonly PlacementOptions _options = options.Value;
    private volatile PartitionMap _current = PartitionMap.Empty;

    public PartitionMap Current => _current;

    /// <summary>Reads the map from the store.</summary>
    public async Task<PartitionMap> RefreshAsync(int partitionCount, CancellationToken cancellationToken)
    {
        var rows = await store.ReadPartitionMapAsync(cancellationToken).ConfigureAwait(false);
        var map = PartitionMap.From(partitionCount, rows);
        _current = map;
        return map;
    }

    /// <summary>
    /// One reconciliation: assigns unassigned partitions and repairs or rebalances standbys for
    /// the live silos of <paramref name="membership"/>. Returns the map after it.
    /// </summary>
    public async Task<PartitionMap> ReconcileAsync(int partitionCount, MembershipSnapshot membership, CancellationToken cancellationToken)
    {
        var active = membership.Active;
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
        var failovers = PlacementPolicy.PlanFailover(assigned, active);
        changes.AddRange(failovers);

        // Standbys are planned on the map as it will be once the failovers are written.
        var after = assigned.ToDictionary(a => a.PartitionId);
        foreach (var f in failovers)
        {
            after[f.PartitionId] = f;
        }

        foreach (var standbyChange in PlacementPolicy.PlanStandbys([.. after.Values], active, _options, MaxStandbyMovesPerRound))
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

        var lost = 0;
        foreach (var change in changes)
        {
            if (await store.TryUpdateAssignmentAsync(change, cancellationToken).ConfigureAwait(false))
            {
                LogAssigned(change.PartitionId, change.Epoch, change.Primary?.ToString() ?? "(none)", string.Join(", ", change.Standbys));
            }
            else
            {
                lost++;
            }
        }

        if (lost > 0)
        {
            LogLostRaces(lost);
        }

        return changes.Count > 0 ? await RefreshAsync(partitionCount, cancellationToken).ConfigureAwait(false) : map;
    }

    /// <summary>
    /// Hands primaries this silo leads to in-sync standbys on silos below their share (epoch + 1,
    /// at most a few per round). Only the primary knows which standbys are in sync, so only
    /// partitions it leads are moved. Returns the map after it.
    /// </summary>
    public async Task<PartitionMap> HandOffAsync(int partitionCount, MembershipSnapshot membership, Func<int, SiloAddress, bool> isInSync, CancellationToken cancellationToken)
    {
        var map = _current;
        if (!_options.BalancePrimaries || !map.IsComplete)
        {
            return map;
        }

        var handoffs = PlacementPolicy.PlanPrimaryHandoffs([.. map.Assignments.Select(a => a!)], membership.Active, isInSync, MaxHandoffsPerRound);
        var moved = false;
        foreach (var handoff in handoffs)
        {
            if (await store.TryUpdateAssignmentAsync(handoff, cancellationToken).ConfigureAwait(false))
            {
                moved = true;
                LogHandedOff(handoff.PartitionId, handoff.Epoch, handoff.Primary?.ToString() ?? "(none)");
            }
        }

        return moved ? await RefreshAsync(partitionCount, cancellationToken).ConfigureAwait(false) : map;
    }

    [LoggerMessage(EventId = LogEvents.PartitionHandedOff, Level = LogLevel.Information, Message = "Partition {Partition} handed off to its in-sync standby {Primary} at epoch {Epoch}, to even out primaries.")]
    private partial void LogHandedOff(int partition, long epoch, string primary);

    [LoggerMessage(EventId = LogEvents.PartitionAssigned, Level = LogLevel.Information, Message = "Partition {Partition} assigned at epoch {Epoch}: primary {Primary}, standbys [{Standbys}].")]
    private partial void LogAssigned(int partition, long epoch, string primary, string standbys);

    [LoggerMessage(EventId = LogEvents.PartitionMapRace, Level = LogLevel.Debug, Message = "{Count} partition map changes were made first by another silo; re-read the map.")]
    private partial void LogLostRaces(int count);
}
