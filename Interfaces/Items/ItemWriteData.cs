namespace OrleansReplication;

/// <summary>One untyped write as it crosses to a partition: <paramref name="Json"/> null removes the item.</summary>
/// <param name="Key">The item's key.</param>
/// <param name="Json">The new value as UTF-8 JSON, or <see langword="null"/> to remove. Never changed once sent.</param>
/// <param name="Expect">The version condition.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.ItemWriteData")]
public readonly record struct ItemWriteData(ItemKey Key, byte[]? Json, Expect Expect);
