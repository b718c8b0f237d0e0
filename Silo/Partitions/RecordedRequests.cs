using Google.Protobuf;
using OrleansReplication.Silo.Storage.Stored;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>Conversions of recorded requests to and from the store, and the union a promoted standby starts from.</summary>
internal static class RecordedRequests
{
    /// <summary>The store's rows as recorded requests, oldest first.</summary>
    public static IEnumerable<RecordedRequest> FromStored(IReadOnlyList<StoredRequestBlock> rows) =>
        rows.SelectMany(r => ReplicatedRequestBlock.Parser.ParseFrom(r.Requests).Requests)
            .Select(RecordedRequest.FromStored)
            .OrderBy(r => r.LastSequence);

    /// <summary>One store row holding <paramref name="requests"/> (oldest first); none when there are none.</summary>
    public static StoredRequestBlock[] ToStored(IReadOnlyList<RecordedRequest> requests)
    {
        if (requests.Count == 0)
        {
            return [];
        }

        var block = new ReplicatedRequestBlock();
        foreach (var request in requests)
        {
            block.Requests.Add(request.ToStored());
        }

        return [new StoredRequestBlock(requests[^1].LastSequence, block.ToByteArray())];
    }

    /// <summary>
    /// What a promoted standby remembers: its copy's requests and the store's (either may be ahead
    /// of the other), each once, oldest first.
    /// </summary>
    public static List<RecordedRequest> Union(IReadOnlyList<RecordedRequest> copy, PartitionData store)
    {
        var byKey = new Dictionary<RequestKey, RecordedRequest>(copy.Count + store.Requests.Count);
        foreach (var request in FromStored(store.Requests))
        {
            byKey[request.Key] = request;
        }

        foreach (var request in copy)
        {
            byKey[request.Key] = request;
        }

        return [.. byKey.Values.OrderBy(r => r.LastSequence)];
    }
}

/// <summary>A standby's warm copy of a partition, as a promotion starts from it.</summary>
/// <param name="Items">The items, as of <paramref name="Applied"/>.</param>
/// <param name="Applied">Every change up to here is applied.</param>
/// <param name="Epoch">The epoch of the primary the copy followed.</param>
/// <param name="Requests">The requests with idempotency ids the copy remembers, oldest first.</param>
internal sealed record WarmCopy(IReadOnlyList<KeyValuePair<ItemAddress, ItemEntry>> Items, long Applied, long Epoch, IReadOnlyList<RecordedRequest> Requests)
{
    /// <summary>
    /// Hands the standby's table itself over to the new primary of the given epoch, so a promotion
    /// rebuilds nothing: the standby is retired first (records of older epochs are refused from
    /// then on, so nothing else changes the table). Null when the standby moved past
    /// <see cref="Applied"/> or is gone (then start from <see cref="Items"/>); unset in tests.
    /// </summary>
    public Func<long, ItemTable?>? Adopt { get; init; }

    /// <summary>The changes the copy applied recently, ending at <see cref="Applied"/>: the new primary's log continues them. Null: none kept (tests).</summary>
    public Replication.LogTail? Tail { get; init; }
}
