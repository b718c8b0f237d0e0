namespace OrleansReplication;

/// <summary>
/// Merges partitions' listing pages into one page of the component: listing order is id, then
/// partition key (ordinal); the cursor is the id, then U+001F and the partition key when there is one.
/// </summary>
internal static class ListingMerge
{
    private const char CursorSeparator = '\u001f';

    /// <summary>
    /// The page of at most <paramref name="limit"/> items and the cursor after it (null when no
    /// partition has more). Each partition page holds that partition's first items after the same
    /// cursor; a page cut short is complete only up to its last item, so the merged page stops at
    /// the smallest such last item.
    /// </summary>
    public static (List<JsonItem> Items, string? Next) Merge(IEnumerable<PartitionPage> pages, int limit)
    {
        var items = new List<JsonItem>();
        JsonItem? boundary = null;
        foreach (var page in pages)
        {
            items.AddRange(page.Items);
            if (page.More && page.Items.Length > 0 && (boundary is null || Compare(page.Items[^1], boundary) < 0))
            {
                boundary = page.Items[^1];
            }
        }

        items.Sort(Compare);
        var max = boundary is null ? items.Count : items.FindLastIndex(i => Compare(i, boundary) <= 0) + 1;
        max = Math.Min(max, limit);
        var more = boundary is not null || items.Count > max;
        if (items.Count > max)
        {
            items.RemoveRange(max, items.Count - max);
        }

        return (items, more && items.Count > 0 ? Cursor(items[^1].Key) : null);
    }

    /// <summary>The listing cursor of <paramref name="key"/>.</summary>
    public static string Cursor(ItemKey key) => string.IsNullOrEmpty(key.PartitionKey) ? key.Id : key.Id + CursorSeparator + key.PartitionKey;

    private static int Compare(JsonItem a, JsonItem b) =>
        string.CompareOrdinal(a.Key.Id, b.Key.Id) is var byId && byId != 0 ? byId : string.CompareOrdinal(a.Key.PartitionKey ?? string.Empty, b.Key.PartitionKey ?? string.Empty);
}
