using System.Text.Json;

namespace OrleansReplication;

/// <summary>
/// The grain that holds one item of one component. Its key is <see cref="StateItemGrainKey.Format"/>
/// of the component, item id and optional partition key.
/// </summary>
public interface IStateItemGrain : IGrainWithStringKey
{
    /// <summary>Reads the item, or <see langword="null"/> when it does not exist.</summary>
    Task<VersionedItem<JsonElement>?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets the item; returns its new version.</summary>
    /// <exception cref="VersionConflictException">The item is not at the expected version.</exception>
    Task<long> SetAsync(JsonElement value, Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default);

    /// <summary>Removes the item; returns whether it existed.</summary>
    /// <exception cref="VersionConflictException">The item is not at the expected version.</exception>
    Task<bool> RemoveAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default);
}
