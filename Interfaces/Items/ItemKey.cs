namespace OrleansReplication;

/// <summary>
/// Identifies one item of a component: its id and, optionally, a partition key.
/// </summary>
/// <remarks>
/// The partition an item lives in is chosen by a stable hash of the component and the partition
/// key, which defaults to the id. Items that must change together atomically share a partition key.
/// The partition key is part of the item's identity: give the same one on every call.
/// </remarks>
/// <param name="Id">The item id: 1 to <see cref="StateNames.MaxIdBytes"/> UTF-8 bytes, no control characters.</param>
/// <param name="PartitionKey">The partition key, or <see langword="null"/> to partition by <paramref name="Id"/>.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.ItemKey")]
public readonly record struct ItemKey(string Id, string? PartitionKey = null)
{
    /// <summary>The key that decides the partition: <see cref="PartitionKey"/> when given, else <see cref="Id"/>.</summary>
    public string EffectivePartitionKey => string.IsNullOrEmpty(PartitionKey) ? Id : PartitionKey;

    /// <summary>Makes a key partitioned by its own id.</summary>
    public static implicit operator ItemKey(string id) => new(id);

    /// <inheritdoc />
    public override string ToString() => string.IsNullOrEmpty(PartitionKey) ? Id : $"{PartitionKey}/{Id}";
}
