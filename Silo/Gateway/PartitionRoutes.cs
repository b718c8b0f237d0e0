using OrleansReplication.Protocol;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Gateway;

/// <summary>
/// Where each partition's primary can be reached, from this silo's cached partition map and
/// membership: what clients route by (<see cref="MessageType.GetPartitionMap"/>) and where a watch
/// fans in from.
/// </summary>
internal sealed class PartitionRoutes(PartitionMapManager map, MembershipService membership, PartitionManager partitions)
{
    /// <summary>The map as a reply: one row per partition (empty endpoints where no live primary is known).</summary>
    public PartitionMapReply ToReply()
    {
        var count = partitions.PartitionCount;
        var current = map.Current;
        var silos = membership.Current.Silos;
        var reply = new PartitionMapReply { PartitionCount = (uint)count };
        for (var p = 0; p < count; p++)
        {
            var route = new PartitionRoute { Id = (uint)p };
            if (current[p] is { } assignment)
            {
                route.Epoch = assignment.Epoch;
                if (Live(silos, assignment.Primary) is { } primary)
                {
                    route.PrimarySilo = primary.Address.ToString();
                    route.PrimaryGateway = primary.GatewayEndpoint;
                    route.PrimaryHttp = primary.HttpEndpoint;
                }

                foreach (var standby in assignment.Standbys)
                {
                    route.Standbys.Add(standby.ToString());
                }
            }

            reply.Partitions.Add(route);
        }

        return reply;
    }

    /// <summary>The HTTP endpoint of <paramref name="partitionId"/>'s primary, or null while it has no live one.</summary>
    public string? PrimaryHttp(int partitionId) =>
        Live(membership.Current.Silos, map.Current[partitionId]?.Primary) is { HttpEndpoint: { Length: > 0 } http } ? http : null;

    private static SiloRecord? Live(IReadOnlyList<SiloRecord> silos, SiloIncarnation? address)
    {
        if (address is not { } wanted)
        {
            return null;
        }

        foreach (var silo in silos)
        {
            if (silo.Address == wanted && silo.Status != SiloStatus.Dead)
            {
                return silo;
            }
        }

        return null;
    }
}
