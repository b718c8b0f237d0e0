using System.Runtime.InteropServices;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// Turns a contiguous run of changes into the store writes that bring the store from just before
/// the run to its end: one write per item, conditional on the item's version before its first
/// change in the run, carrying its last change.
/// </summary>
internal static class StoreFlush
{
    /// <summary>Appends the store writes of <paramref name="entries"/> to <paramref name="writes"/>; <paramref name="items"/> is scratch space (cleared first).</summary>
    public static void Coalesce(ReadOnlySpan<LogEntry> entries, Dictionary<ItemAddress, Item> items, List<StoredWrite> writes)
    {
        items.Clear();
        foreach (var entry in entries)
        {
            ref var item = ref CollectionsMarshal.GetValueRefOrAddDefault(items, entry.Address, out var seen);
            item = seen
                ? item with { Version = entry.Sequence, Value = entry.Value }
                : new Item(entry.PreviousVersion, entry.Sequence, entry.Value);
        }

        foreach (var (address, item) in items)
        {
            if (item.Value is null && item.Expected == 0)
            {
                continue; // created and removed within the run: the store never saw it
            }

            writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, item.Expected, item.Version, item.Value));
        }
    }

    /// <summary>An item's store write being built: the version the store holds, and the last change.</summary>
    internal readonly record struct Item(long Expected, long Version, byte[]? Value);
}
