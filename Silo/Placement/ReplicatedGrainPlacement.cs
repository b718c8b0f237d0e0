using Orleans.Metadata;
using Orleans.Runtime;
using OrleansReplication.Grains.Placement;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Places every grain class that takes a <c>[ReplicatedState]</c> on its partition's primary
/// (<see cref="PartitionPlacement"/>) without an attribute of its own, and checks its facets as the
/// silo builds its grain manifest at start: a malformed facet, or another placement strategy
/// declared on the class, stops the silo with a message saying what to change.
/// </summary>
internal sealed class ReplicatedGrainPlacement : IGrainPropertiesProvider
{
    public void Populate(Type grainClass, GrainType grainType, Dictionary<string, string> properties)
    {
        if (!ReplicatedGrainClass.Check(grainClass))
        {
            return;
        }

        if (properties.TryGetValue(WellKnownGrainTypeProperties.PlacementStrategy, out var declared) && declared != ReplicationGrainTypes.PartitionPlacement)
        {
            throw new InvalidOperationException($"Grain class {grainClass.FullName} takes [ReplicatedState] but declares placement {declared}. A replicated grain runs on its partition's primary, where its warm copy is: remove the placement attribute.");
        }

        properties[WellKnownGrainTypeProperties.PlacementStrategy] = ReplicationGrainTypes.PartitionPlacement;
    }
}
