namespace OrleansReplication.Grains.State;

/// <summary>
/// The warm, partitioned item state of the silo, as grains see it. Reads never touch the store;
/// writes go through the item's partition, which validates versions and numbers every change.
/// </summary>
public interface IItemStateAccess
{
    /// <summary>Reads an item's current JSON and version, or <see langword="null"/> when it does not exist.</summary>
    ItemState? Get(string component, ItemKey key);

    /// <summary>Applies writes (atomic per partition); returns one result per write, in order.</summary>
    /// <exception cref="VersionConflictException">A version condition did not hold.</exception>
    Task<IReadOnlyList<WriteResult>> ApplyAsync(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, CancellationToken cancellationToken);
}

/// <summary>An item's JSON (UTF-8) and version.</summary>
/// <param name="Version">The item's version.</param>
/// <param name="Json">The item's JSON, as written.</param>
public sealed record ItemState(long Version, byte[] Json);

/// <summary>One untyped write: <paramref name="Json"/> null removes the item.</summary>
/// <param name="Key">The item's key.</param>
/// <param name="Json">The new JSON, or <see langword="null"/> to remove.</param>
/// <param name="Expect">The version condition.</param>
public readonly record struct ItemWriteData(ItemKey Key, byte[]? Json, Expect Expect);
