using System.Text.Json;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Grains;

/// <summary>Holds one item of one component as raw JSON: get, set and remove with version conditions.</summary>
internal sealed class StateItemGrain(IItemStateAccess state) : ReplicatedStateGrain<JsonElement>(state), IStateItemGrain
{
    public Task<VersionedItem<JsonElement>?> GetAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(ReadState());

    public Task<long> SetAsync(JsonElement value, Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default) =>
        WriteStateAsync(value, expect, safety, cancellationToken);

    public Task<bool> RemoveAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default) =>
        ClearStateAsync(expect, safety, cancellationToken);
}
