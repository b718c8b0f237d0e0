using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// What a promoted standby starts from: its warm copy merged with the store. Every acknowledged
/// write is in one of the two (applied by every in-sync standby, or persisted), so the merge loses
/// none, whichever of the two is ahead on a key.
/// </summary>
/// <remarks>
/// The copy has applied every change up to A; the store has persisted every change up to S (the
/// persister writes in sequence order). Per key: present in both, the higher version wins; only
/// in the copy at version v, it is kept when v &gt; S (not persisted yet) and dropped otherwise (a
/// persisted change deleted it); only in the store at version v, it is kept when v &gt; A (the copy
/// missed it) and dropped otherwise (the copy applied its removal). The store writes returned
/// bring the store to the merged state; they exist only when A &gt; S, so the new last sequence
/// max(A, S) is above the stored one, as the store's fence requires.
/// </remarks>
internal static class WarmCopyMerge
{
    public static Result Merge(IReadOnlyList<KeyValuePair<ItemAddress, ItemEntry>> copy, long copyApplied, PartitionData store)
    {
        var storeItems = new Dictionary<ItemAddress, StoredItem>(store.Items.Count);
        foreach (var item in store.Items)
        {
            storeItems[new ItemAddress(item.Component, item.PartitionKey, item.Id)] = item;
        }

        var merged = new List<KeyValuePair<ItemAddress, PendingEntry>>(Math.Max(copy.Count, store.Items.Count));
        var writes = new List<StoredWrite>();
        var lastSequence = Math.Max(copyApplied, store.LastSequence);
        var storeKept = false;
        foreach (var (address, entry) in copy)
        {
            if (storeItems.Remove(address, out var stored))
            {
                if (stored.Version >= entry.Version)
                {
                    storeKept |= stored.Version > entry.Version;
                    merged.Add(KeyValuePair.Create(address, new PendingEntry(stored.Version, stored.Value)));
                }
                else
                {
                    merged.Add(KeyValuePair.Create(address, new PendingEntry(entry.Version, entry.Json)));
                    writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, stored.Version, entry.Version, entry.Json));
                }
            }
            else if (entry.Version > store.LastSequence)
            {
                merged.Add(KeyValuePair.Create(address, new PendingEntry(entry.Version, entry.Json)));
                writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, 0, entry.Version, entry.Json));
            }
        }

        foreach (var (address, stored) in storeItems)
        {
            if (stored.Version > copyApplied)
            {
                storeKept = true;
                merged.Add(KeyValuePair.Create(address, new PendingEntry(stored.Version, stored.Value)));
            }
            else
            {
                writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, stored.Version, lastSequence, null));
            }
        }

        return new Result(merged, writes, lastSequence, !storeKept && lastSequence == copyApplied);
    }

    /// <param name="Items">The partition's items after the merge.</param>
    /// <param name="StoreWrites">What brings the store to <paramref name="Items"/>; commit them with <paramref name="LastSequence"/>.</param>
    /// <param name="LastSequence">The partition's last sequence after the merge: max(copy applied, store last).</param>
    /// <param name="IsCopy">Whether the merge is the copy itself at its applied sequence (the store was behind or equal and held nothing newer): the copy's history then leads to it.</param>
    internal sealed record Result(List<KeyValuePair<ItemAddress, PendingEntry>> Items, List<StoredWrite> StoreWrites, long LastSequence, bool IsCopy);
}
