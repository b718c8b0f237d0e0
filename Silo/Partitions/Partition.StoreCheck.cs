using OrleansReplication.Silo.AntiEntropy;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// Anti-entropy against the store: the primary compares the store's rows with its warm copy, clump
/// by clump, without stopping writes, and rewrites the rows of the differing clumps that differ.
/// </summary>
/// <remarks>
/// The store is read at its sequence S; the warm copy is read after it, and the log's changes
/// since S after that. An item the log does not name did not change since S, so its warm value
/// must be its row; items the log names are left out of this comparison (write-behind is carrying
/// them). The store keeps no hashes of its own, so this reads every row of the partition: it runs
/// far less often than the replica checks, one partition at a time per silo.
/// </remarks>
internal sealed partial class Partition
{
    private StoreCheckStatus? _lastStoreCheck;

    /// <summary>The last comparison of the store with this primary's warm copy.</summary>
    public StoreCheckStatus? LastStoreCheck => Volatile.Read(ref _lastStoreCheck);

    /// <summary>Compares the store's rows with the warm copy and repairs the rows that differ. Null when it could not compare now (see <see cref="StoreCheckStatus"/>).</summary>
    public async Task<StoreCheckStatus?> CheckStoreAsync(CancellationToken cancellationToken)
    {
        if (Items.Digest is not { } digest || _status != PartitionStatus.Serving)
        {
            return null;
        }

        var epoch = Epoch;
        var data = await _store.LoadPartitionAsync(Id, cancellationToken).ConfigureAwait(false);
        if (data.Epoch > epoch)
        {
            return null; // another silo leads now: this partition is about to be fenced
        }

        var warm = new List<KeyValuePair<ItemAddress, ItemEntry>>(Items.Count);
        Items.CopyTo(warm);
        var since = new List<LogEntry>();
        if (!_log.TryRead(data.LastSequence + 1, int.MaxValue, since))
        {
            return null; // the log let go of changes the store lacks: compare when it catches up
        }

        var moving = new HashSet<ItemAddress>(since.Count);
        foreach (var entry in since)
        {
            moving.Add(entry.Address);
        }

        var clumps = digest.ClumpCount;
        var rows = data.Items
            .Select(static i => (Address: new ItemAddress(i.Component, i.PartitionKey, i.Id), i.Version, i.Value))
            .Where(i => !moving.Contains(i.Address))
            .ToList();
        var held = warm.Where(i => !moving.Contains(i.Key)).Select(static i => (i.Key, i.Value.Version, i.Value.Json)).ToList();
        var differing = ClumpDigest.Differing(ClumpDigest.Compute(clumps, rows), ClumpDigest.Compute(clumps, held));
        var repaired = 0;
        if (differing.Length > 0)
        {
            var writes = StoreRepairs(new HashSet<int>(differing), clumps, rows, held);
            repaired = await _store.RepairAsync(Id, epoch, writes, cancellationToken).ConfigureAwait(false);
            AntiEntropyReported?.Invoke(new AntiEntropyReport(Id, epoch, "store", AntiEntropyFinding.StoreRepaired, data.LastSequence, differing, repaired, 1));
        }

        var status = new StoreCheckStatus(_time.GetUtcNow(), data.LastSequence, rows.Count, differing.Length, repaired);
        Volatile.Write(ref _lastStoreCheck, status);
        return status;
    }

    /// <summary>The row writes that make the store's items of <paramref name="differing"/> clumps the warm copy's.</summary>
    private static List<StoredWrite> StoreRepairs(
        HashSet<int> differing,
        int clumps,
        List<(ItemAddress Address, long Version, byte[] Value)> rows,
        List<(ItemAddress Address, long Version, byte[] Value)> held)
    {
        bool InDiffering(in ItemAddress address) => differing.Contains(ClumpDigest.ClumpOf(ClumpDigest.AddressHash(address), clumps));

        var stored = rows.Where(r => InDiffering(r.Address)).ToDictionary(static r => r.Address);
        var writes = new List<StoredWrite>();
        foreach (var (address, version, value) in held)
        {
            if (!InDiffering(address))
            {
                continue;
            }

            if (!stored.Remove(address, out var row))
            {
                writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, 0, version, value));
            }
            else if (row.Version != version || !row.Value.AsSpan().SequenceEqual(value))
            {
                writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, row.Version, version, value));
            }
        }

        // Rows the warm copy does not have: removed here, never removed there.
        foreach (var (address, version, _) in stored.Values)
        {
            writes.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, version, version, null));
        }

        return writes;
    }
}

/// <summary>The last comparison of the store with its partition's primary.</summary>
/// <param name="At">When it ended.</param>
/// <param name="Sequence">The store's sequence compared at.</param>
/// <param name="Rows">The rows compared (those write-behind was not carrying).</param>
/// <param name="DifferingClumps">How many clumps differed.</param>
/// <param name="RowsRepaired">How many rows were rewritten.</param>
internal sealed record StoreCheckStatus(DateTimeOffset At, long Sequence, int Rows, int DifferingClumps, int RowsRepaired)
{
    public ReplicaCheck ToPublic() => new(At, Sequence, DifferingClumps == 0 ? "in-sync" : "repaired", DifferingClumps, RowsRepaired);
}
