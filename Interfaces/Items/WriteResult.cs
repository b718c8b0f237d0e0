namespace OrleansReplication;

/// <summary>The outcome of one set or remove.</summary>
/// <param name="Key">The item's key.</param>
/// <param name="Version">The item's new version; for a remove, the version the removal was recorded at (0 when nothing was removed).</param>
/// <param name="Removed">Whether the write was a remove.</param>
/// <param name="Changed">False for a remove of an item that did not exist.</param>
/// <param name="Created">True when a set created the item (it did not exist before).</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.WriteResult")]
public sealed record WriteResult(ItemKey Key, long Version, bool Removed, bool Changed, bool Created);
