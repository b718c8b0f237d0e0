namespace OrleansReplication;

/// <summary>An item as stored, with the version (ETag) it is at.</summary>
/// <typeparam name="TItem">The component's item type.</typeparam>
/// <param name="Key">The item's key.</param>
/// <param name="Value">The item.</param>
/// <param name="Version">The item's version: positive, and higher after every change.</param>
[GenerateSerializer]
[Alias("OrleansReplication.VersionedItem`1")]
public sealed record VersionedItem<TItem>(ItemKey Key, TItem Value, long Version);
