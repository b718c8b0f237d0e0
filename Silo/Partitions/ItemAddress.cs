namespace OrleansReplication.Silo.Partitions;

/// <summary>Where an item lives inside a partition: component, partition key ("" for none) and id.</summary>
internal readonly record struct ItemAddress(string Component, string PartitionKey, string Id)
{
    public static ItemAddress From(string component, ItemKey key) => new(component, key.PartitionKey ?? string.Empty, key.Id);

    public ItemKey Key => new(Id, PartitionKey.Length == 0 ? null : PartitionKey);
}

/// <summary>An item's current value in the warm copy. Immutable: a write swaps in a new entry.</summary>
internal sealed record ItemEntry(long Version, byte[] Json);
