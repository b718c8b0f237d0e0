using System.Collections.Concurrent;
using System.Collections.Immutable;
using OrleansReplication.Silo.AntiEntropy;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// The warm in-memory items of one partition, with a per-component sorted index for listing.
/// Written only by the partition's commit loop (or a standby's apply loop); read by any thread without locks (the
/// dictionaries are concurrent and the index sets are immutable snapshots swapped atomically).
/// </summary>
internal sealed class ItemTable(int clumps = 0)
{
    private readonly ConcurrentDictionary<ItemAddress, ItemEntry> _items = new();
    private readonly ConcurrentDictionary<string, ImmutableSortedSet<ListingKey>> _index = new(StringComparer.Ordinal);

    public int Count => _items.Count;

    /// <summary>
    /// The items' clump hashes, kept by the writer as it applies (anti-entropy); null when
    /// anti-entropy is off. Read it only on the writer's thread, between applies.
    /// </summary>
    public ClumpDigest? Digest { get; } = clumps > 0 ? new ClumpDigest(clumps) : null;

    public ItemEntry? Get(in ItemAddress address) => _items.TryGetValue(address, out var entry) ? entry : null;

    /// <summary>
    /// Commit loop only: sets or removes items; index changes are applied per component in one swap.
    /// <paramref name="previousVersions"/>, when given, receives each change's item version before
    /// it (0: absent), found by the lookups the change makes anyway.
    /// </summary>
    public void Apply(IEnumerable<KeyValuePair<ItemAddress, PendingEntry>> changes, List<long>? previousVersions = null)
    {
        Dictionary<string, ImmutableSortedSet<ListingKey>.Builder>? builders = null;
        foreach (var (address, pending) in changes)
        {
            bool indexChanged;
            ItemEntry? previous;
            if (pending.Json is null)
            {
                indexChanged = _items.TryRemove(address, out previous);
            }
            else
            {
                indexChanged = !_items.TryGetValue(address, out previous);
                _items[address] = new ItemEntry(pending.Version, pending.Json);
            }

            previousVersions?.Add(previous?.Version ?? 0);
            if (Digest is { } digest && (previous is not null || pending.Json is not null))
            {
                var hash = ClumpDigest.AddressHash(address);
                if (previous is not null)
                {
                    digest.Toggle(hash, previous.Version, previous.Json);
                }

                if (pending.Json is not null)
                {
                    digest.Toggle(hash, pending.Version, pending.Json);
                }
            }

            if (!indexChanged)
            {
                continue;
            }

            builders ??= new(StringComparer.Ordinal);
            if (!builders.TryGetValue(address.Component, out var builder))
            {
                builder = _index.GetValueOrDefault(address.Component, ImmutableSortedSet<ListingKey>.Empty).ToBuilder();
                builders[address.Component] = builder;
            }

            var listingKey = new ListingKey(address.Id, address.PartitionKey);
            if (pending.Json is null)
            {
                builder.Remove(listingKey);
            }
            else
            {
                builder.Add(listingKey);
            }
        }

        if (builders is not null)
        {
            foreach (var (component, builder) in builders)
            {
                _index[component] = builder.ToImmutable();
            }
        }
    }

    /// <summary>Loads items (at partition load); replaces nothing already there.</summary>
    public void Load(IEnumerable<KeyValuePair<ItemAddress, PendingEntry>> items) => Apply(items);

    /// <summary>Copies every item into <paramref name="into"/> (entries are immutable: references only). Consistent only when nothing writes meanwhile.</summary>
    public void CopyTo(List<KeyValuePair<ItemAddress, ItemEntry>> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        into.EnsureCapacity(into.Count + _items.Count);
        foreach (var item in _items)
        {
            into.Add(item);
        }
    }

    /// <summary>Removes everything (before a reload from the store).</summary>
    public void Clear()
    {
        _items.Clear();
        _index.Clear();
        Digest?.Clear();
    }

    /// <summary>
    /// Copies the items of the given clumps into <paramref name="into"/> (a scan of the table:
    /// anti-entropy's repairs are rare, and an index per clump would cost every write).
    /// </summary>
    public void CollectClumps(IReadOnlySet<int> clumps, List<KeyValuePair<ItemAddress, ItemEntry>> into)
    {
        var count = Digest?.ClumpCount ?? throw new InvalidOperationException("Anti-entropy is off for this table: it keeps no clumps.");
        foreach (var item in _items)
        {
            if (clumps.Contains(ClumpDigest.ClumpOf(ClumpDigest.AddressHash(item.Key), count)))
            {
                into.Add(item);
            }
        }
    }

    /// <summary>Up to <paramref name="limit"/> items of <paramref name="component"/> after <paramref name="after"/>, in listing order.</summary>
    public void CollectAfter(string component, ListingKey? after, int limit, List<(ListingKey Key, ItemEntry Entry)> into)
    {
        if (!_index.TryGetValue(component, out var set) || set.Count == 0)
        {
            return;
        }

        var start = 0;
        if (after is { } a)
        {
            var at = set.IndexOf(a);
            start = at >= 0 ? at + 1 : ~at;
        }

        var taken = 0;
        for (var i = start; i < set.Count && taken < limit; i++)
        {
            var key = set[i];
            if (_items.TryGetValue(new ItemAddress(component, key.PartitionKey, key.Id), out var entry))
            {
                into.Add((key, entry));
                taken++;
            }
        }
    }
}

/// <summary>A change not yet committed: a new version and JSON, or a removal (<see cref="Json"/> null).</summary>
internal readonly record struct PendingEntry(long Version, byte[]? Json);
