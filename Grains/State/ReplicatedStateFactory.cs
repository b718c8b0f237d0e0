using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace OrleansReplication.Grains.State;

/// <summary>Makes the replicated states of grains: a user grain's facets and an item grain's JSON.</summary>
internal sealed class ReplicatedStateFactory(IPartitionAccess access, PartitionActivations activations)
{
    /// <summary>A <c>[ReplicatedState(stateName)]</c> facet: named by the grain id, Orleans-serialized, read when the grain activates.</summary>
    public ReplicatedState<TState> CreateFacet<TState>(IGrainContext context, string stateName)
    {
        ArgumentNullException.ThrowIfNull(context);
        var serializer = context.ActivationServices.GetRequiredService<Serializer<TState>>();
        var name = (GrainStateNames.Component(stateName), new ItemKey(context.GrainId.ToString()));
        return new ReplicatedState<TState>(context, access, activations, StateCodec<TState>.Orleans(serializer), () => name, readOnActivation: true);
    }

    /// <summary>An item grain's state: its JSON as stored, named by the grain's key (<see cref="StateItemGrainKey"/>), read per call.</summary>
    public ReplicatedState<byte[]> CreateItem(IGrainContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = context.GrainId.Key.ToString()!;
        return new ReplicatedState<byte[]>(context, access, activations, StateCodec<byte[]>.Bytes(), () => StateItemGrainKey.Parse(key), readOnActivation: false);
    }
}
