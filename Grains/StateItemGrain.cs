using OrleansReplication.Grains.Placement;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Grains;

/// <summary>Holds one item of one component as raw JSON in the partition replica: get, set and remove with version conditions.</summary>
[PartitionPlacement]
[GrainType(GrainTypeName)]
internal sealed class StateItemGrain : Grain, IStateItemGrain
{
    /// <summary>The grain type (what the placement director recognises).</summary>
    public const string GrainTypeName = ReplicationGrainTypes.StateItem;

    private readonly ReplicatedState<byte[]> _state;

    public StateItemGrain(ReplicatedStateFactory states)
    {
        _state = states.CreateItem(GrainContext);
    }

    public Task<JsonItem?> GetAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_state.ReadStored());

    public Task<WriteResult> SetAsync(byte[] json, Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default)
    {
        _state.State = json;
        return _state.WriteAsync(expect, safety, cancellationToken);
    }

    public Task<WriteResult> RemoveAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default) =>
        _state.ClearAsync(expect, safety, cancellationToken);
}
