using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansReplication.Grains;
using OrleansReplication.Grains.Placement;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Places <see cref="PartitionPlacement"/> grains on the primary of their partition: the partition
/// grain by its integer key, the item grain by its key's hash (<see cref="PartitionHasher"/>), the
/// primary from this silo's partition map and membership. With no live primary known (a failover
/// in progress, a silo still loading) it places the grain here, or on any compatible silo; the
/// grain then refuses calls until its silo leads the partition, and the caller's retry is placed again.
/// </summary>
internal sealed class PartitionPlacementDirector(PartitionManager partitions, PartitionMapManager map, MembershipService membership) : IPlacementDirector
{
    // A failover names the new primary within about a second; beyond this, place it as if none were known.
    private static readonly TimeSpan PrimaryWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PrimaryPoll = TimeSpan.FromMilliseconds(20);

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);

        // A grain that found its silo not leading migrates with the primary it knows as the hint.
        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hint)
        {
            return Task.FromResult(hint);
        }

        var partition = PartitionOf(target.GrainIdentity);
        if (partition is { } p && PrimaryOf(map, membership, p) is { } primary && compatible.Contains(primary))
        {
            return Task.FromResult(primary);
        }

        // A user grain's caller is plain Orleans code that does not retry a refused call: during a
        // failover, wait (bounded) for the new primary rather than place it where it is refused.
        if (partition is { } q && ReplicationGrainTypes.IsUserGrain(target.GrainIdentity.Type.ToString()))
        {
            return WaitForPrimaryAsync(q, target, context);
        }

        return Fallback(target, context, compatible);
    }

    private async Task<SiloAddress> WaitForPrimaryAsync(int partition, PlacementTarget target, IPlacementContext context)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < PrimaryWait)
        {
            await Task.Delay(PrimaryPoll).ConfigureAwait(false);
            var compatible = context.GetCompatibleSilos(target);
            if (PrimaryOf(map, membership, partition) is { } primary && compatible.Contains(primary))
            {
                return primary;
            }
        }

        return await Fallback(target, context, context.GetCompatibleSilos(target)).ConfigureAwait(false);
    }

    private Task<SiloAddress> Fallback(PlacementTarget target, IPlacementContext context, SiloAddress[] compatible)
    {
        // No primary known: here, unless this silo has not followed a map yet (it is starting and
        // would refuse the calls), then any other compatible silo.
        if (partitions.FollowsMap && compatible.Contains(context.LocalSilo))
        {
            return Task.FromResult(context.LocalSilo);
        }

        var others = compatible.Where(s => !s.Equals(context.LocalSilo)).ToArray();
        var candidates = others.Length > 0 ? others : compatible;
        return candidates.Length > 0
            ? Task.FromResult(candidates[Random.Shared.Next(candidates.Length)])
            : throw new SiloUnavailableException($"No silo can host {target.GrainIdentity} right now.");
    }

    /// <summary>The partition of a grain placed by partition, or null when unknown (partitions not loaded, malformed key).</summary>
    public int? PartitionOf(GrainId grain)
    {
        var count = partitions.PartitionCount;
        if (count == 0)
        {
            return null;
        }

        var type = grain.Type.ToString();
        if (type == PartitionGrain.GrainTypeName)
        {
            return grain.TryGetIntegerKey(out var key, out _) && key >= 0 && key < count ? (int)key : null;
        }

        if (type == StateItemGrain.GrainTypeName)
        {
            try
            {
                var (component, item) = StateItemGrainKey.Parse(grain.Key.ToString()!);
                return PartitionHasher.GetPartition(component, item.EffectivePartitionKey, count);
            }
            catch (InvalidRequestException)
            {
                return null; // the grain refuses the key itself, with a typed error
            }
        }

        // A user grain with [ReplicatedState]: the partition of its grain id, where its facets are.
        return PartitionHasher.GetGrainPartition(grain.ToString(), count);
    }

    /// <summary>The Orleans address of the live primary of <paramref name="partition"/> per this silo's map and membership.</summary>
    public static SiloAddress? PrimaryOf(PartitionMapManager map, MembershipService membership, int partition)
    {
        if (map.Current[partition]?.Primary is not { } primary)
        {
            return null;
        }

        foreach (var silo in membership.Current.Silos)
        {
            if (silo.Address == primary && silo.Status == Membership.SiloStatus.Active)
            {
                return silo.Silo;
            }
        }

        return null;
    }
}
