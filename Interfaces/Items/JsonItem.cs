namespace OrleansReplication;

/// <summary>An item as its partition holds it: key, version and UTF-8 JSON, as written.</summary>
/// <param name="Key">The item's key.</param>
/// <param name="Version">The item's version.</param>
/// <param name="Json">The item's JSON. Shared, never changed: do not write into it.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.JsonItem")]
public sealed record JsonItem(ItemKey Key, long Version, byte[] Json);

/// <summary>One page of one partition's items of a component, in listing order (id, then partition key; ordinal).</summary>
/// <param name="Items">The items.</param>
/// <param name="More">Whether the partition has more items after the last one.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.PartitionPage")]
public sealed record PartitionPage(JsonItem[] Items, bool More);
