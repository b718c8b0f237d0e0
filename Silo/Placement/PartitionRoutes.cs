using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Placement;

/// <summary>Where each partition's primary serves HTTP, from this silo's cached partition map and membership: where a watch fans in from.</summary>
internal sealed class PartitionRoutes(PartitionMapManager map, MembershipService membership)
{
    /// <summary>The HTTP endpoint of <paramref name="partitionId"/>'s primary, or null while it has no live one.</summary>
    public string? PrimaryHttp(int partitionId)
    {
        if (map.Current[partitionId]?.Primary is not { } wanted)
        {
            return null;
        }

        foreach (var silo in membership.Current.Silos)
        {
            if (silo.Address == wanted && silo.Status != SiloStatus.Dead)
            {
                return silo.HttpEndpoint is { Length: > 0 } http ? http : null;
            }
        }

        return null;
    }
}
