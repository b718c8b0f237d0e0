using Google.Protobuf;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>Conversions of recorded requests to and from the store, and the union a promoted standby starts from.</summary>
internal static class RecordedRequests
{
    /// <summary>The store's rows as recorded requests, oldest first.</summary>
    public static IEnumerable<RecordedRequest> FromStored(IReadOnlyList<StoredRequest> rows) =>
        rows.OrderBy(r => r.LastSequence).Select(r => RecordedRequest.FromWire(ReplicatedRequest.Parser.ParseFrom(r.Record)));

    public static StoredRequest ToStored(RecordedRequest request) =>
        new(request.Key.ClientId, unchecked((long)request.Key.Sequence), request.LastSequence, request.ToWire().ToByteArray());

    public static List<StoredRequest> ToStored(IEnumerable<RecordedRequest> requests) => [.. requests.Select(ToStored)];

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
internal sealed record WarmCopy(IReadOnlyList<KeyValuePair<ItemAddress, ItemEntry>> Items, long Applied, long Epoch, IReadOnlyList<RecordedRequest> Requests);
