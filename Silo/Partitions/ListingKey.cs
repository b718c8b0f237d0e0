namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// The order of a component's listing: by id, then partition key (ordinal). As a cursor it is
/// the id, followed by U+001F and the partition key when there is one (ids hold no control characters).
/// </summary>
internal readonly record struct ListingKey(string Id, string PartitionKey) : IComparable<ListingKey>
{
    private const char Separator = '\u001f';

    public int CompareTo(ListingKey other)
    {
        var byId = string.CompareOrdinal(Id, other.Id);
        return byId != 0 ? byId : string.CompareOrdinal(PartitionKey, other.PartitionKey);
    }

    public string ToCursor() => PartitionKey.Length == 0 ? Id : Id + Separator + PartitionKey;

    public static ListingKey FromCursor(string cursor)
    {
        var at = cursor.IndexOf(Separator, StringComparison.Ordinal);
        return at < 0 ? new ListingKey(cursor, string.Empty) : new ListingKey(cursor[..at], cursor[(at + 1)..]);
    }
}
