using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// Merges pages of one listing from several primaries (each lists the partitions it leads) into
/// the cluster's page: listing order is id, then partition key (ordinal), as every silo sorts.
/// </summary>
internal static class ListingMerge
{
    // Between id and partition key in a listing cursor: ids hold no control characters.
    private const char CursorSeparator = '\u001f';

    public static ListReply Merge(IReadOnlyList<ListReply> pages, uint limit)
    {
        if (pages.Count == 1)
        {
            return pages[0];
        }

        var items = pages.SelectMany(p => p.Items).ToList();
        items.Sort(Compare);

        // A page cut short holds its primary's items only up to its last one: beyond the smallest
        // such last item, another page's items could have gaps. Keep up to there, then the limit.
        Item? boundary = null;
        foreach (var page in pages)
        {
            if (page.NextAfterId.Length > 0 && page.Items.Count > 0 && (boundary is null || Compare(page.Items[^1], boundary) < 0))
            {
                boundary = page.Items[^1];
            }
        }

        var max = boundary is null ? items.Count : items.FindLastIndex(i => Compare(i, boundary) <= 0) + 1;
        if (limit > 0)
        {
            max = (int)Math.Min(max, limit);
        }

        var more = boundary is not null || items.Count > max;
        var reply = new ListReply();
        reply.Items.AddRange(items.Take(max));
        if (more && reply.Items.Count > 0)
        {
            var last = reply.Items[^1];
            reply.NextAfterId = last.PartitionKey.Length == 0 ? last.Id : last.Id + CursorSeparator + last.PartitionKey;
        }

        return reply;
    }

    private static int Compare(Item a, Item b) =>
        string.CompareOrdinal(a.Id, b.Id) is var byId && byId != 0 ? byId : string.CompareOrdinal(a.PartitionKey, b.PartitionKey);
}
