using System.Text.Json;
using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Grains.State;

/// <summary>
/// The base of grains whose state is one replicated item, keyed by component + item id
/// (<see cref="StateItemGrainKey"/>). The state lives in the partition's warm copy, not in the
/// activation, so batch writes from other entry points are never hidden by a stale cache.
/// </summary>
/// <typeparam name="TState">The state's type, stored as JSON.</typeparam>
public abstract class ReplicatedStateGrain<TState>(IItemStateAccess state, JsonSerializerOptions? jsonOptions = null) : Grain
{
    private readonly JsonSerializerOptions _jsonOptions = jsonOptions ?? JsonSerializerOptions.Web;

    /// <summary>The component this grain's item belongs to.</summary>
    protected string Component { get; private set; } = string.Empty;

    /// <summary>The item's key within the component.</summary>
    protected ItemKey ItemKey { get; private set; }

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (Component, ItemKey) = StateItemGrainKey.Parse(PrimaryKey);
        return Task.CompletedTask;
    }

    /// <summary>Reads the current state and its version, or <see langword="null"/> when the item does not exist.</summary>
    protected VersionedItem<TState>? ReadState()
    {
        var current = state.Get(Component, ItemKey);
        return current is null
            ? null
            : new VersionedItem<TState>(ItemKey, JsonSerializer.Deserialize<TState>(current.Json, _jsonOptions)!, current.Version);
    }

    /// <summary>Writes the state; returns its new version.</summary>
    protected async Task<long> WriteStateAsync(TState value, Expect expect, SafetyLevel safety, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value, _jsonOptions);
        var results = await state.ApplyAsync(Component, [new ItemWriteData(ItemKey, json, expect)], safety, cancellationToken).ConfigureAwait(false);
        return results[0].Version;
    }

    /// <summary>Removes the state; returns whether the item existed.</summary>
    protected async Task<bool> ClearStateAsync(Expect expect, SafetyLevel safety, CancellationToken cancellationToken)
    {
        var results = await state.ApplyAsync(Component, [new ItemWriteData(ItemKey, null, expect)], safety, cancellationToken).ConfigureAwait(false);
        return results[0].Changed;
    }
}
