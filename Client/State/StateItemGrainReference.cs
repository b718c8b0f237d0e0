using System.Text.Json;

namespace OrleansReplication.Client;

/// <summary>The client's reference to an <see cref="IStateItemGrain"/>: each call is one item request to the gateway.</summary>
internal sealed class StateItemGrainReference(ReplicationClient client, string component, ItemKey key) : IStateItemGrain
{
    private readonly StateReplicator<JsonElement> _replicator = new(client, component, keySelector: null);

    public async Task<VersionedItem<JsonElement>?> GetAsync(CancellationToken cancellationToken = default)
    {
        var items = await _replicator.GetStateItemsAsync([key], cancellationToken).ConfigureAwait(false);
        return items.Count == 0 ? null : items[0];
    }

    public async Task<long> SetAsync(JsonElement value, Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default)
    {
        var results = await _replicator.ApplyAsync([ItemWrite<JsonElement>.Set(key, value, expect)], new WriteOptions { Safety = safety }, cancellationToken).ConfigureAwait(false);
        return results[0].Version;
    }

    public async Task<bool> RemoveAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default)
    {
        var results = await _replicator.ApplyAsync([ItemWrite<JsonElement>.Remove(key, expect)], new WriteOptions { Safety = safety }, cancellationToken).ConfigureAwait(false);
        return results[0].Changed;
    }
}
