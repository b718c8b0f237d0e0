using System.IO.Hashing;
using System.Runtime.InteropServices;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.AntiEntropy;

/// <summary>
/// A partition's items hashed into a fixed number of clumps (by the hash of the item's address)
/// and a root over the clumps: what replicas compare to find that they diverged, and where.
/// Kept incrementally by the single writer of an <see cref="ItemTable"/>: a change XORs the old
/// item's hash out of its clump and the new one in, so no scan is ever needed and two replicas
/// with the same items have the same clumps whatever order the changes came in.
/// </summary>
/// <remarks>
/// The hashes are a wire contract between silos (XxHash3 over the UTF-16 of the address, the
/// version and the value bytes, little-endian): every silo of a cluster must compute them alike.
/// They find divergence introduced through the table (a lost or misapplied batch, a bug, a
/// restored backup); a bit flipped in memory after the apply is not seen by incremental hashes.
/// </remarks>
internal sealed class ClumpDigest
{
    private readonly ulong[] _clumps;

    public ClumpDigest(int clumps)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clumps);
        _clumps = new ulong[clumps];
    }

    public int ClumpCount => _clumps.Length;

    /// <summary>The clump hashes (the writer's view; copy before handing them to another thread).</summary>
    public ReadOnlySpan<ulong> Clumps => _clumps;

    /// <summary>The root over the clumps.</summary>
    public ulong Root => RootOf(_clumps);

    /// <summary>The hash of an item's address: which clump it falls in, and the seed of its item hash.</summary>
    public static ulong AddressHash(in ItemAddress address)
    {
        var hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(address.Component.AsSpan()));
        hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(address.PartitionKey.AsSpan()), (long)hash);
        return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(address.Id.AsSpan()), (long)hash);
    }

    /// <summary>The hash of one item: its address, version and value.</summary>
    public static ulong ItemHash(ulong addressHash, long version, ReadOnlySpan<byte> value) =>
        XxHash3.HashToUInt64(value, (long)(addressHash ^ ((ulong)version * 0x9E3779B97F4A7C15UL)));

    /// <summary>The clump of an address hash among <paramref name="clumps"/>.</summary>
    public static int ClumpOf(ulong addressHash, int clumps) => (int)(addressHash % (uint)clumps);

    /// <summary>The root over clump hashes.</summary>
    public static ulong RootOf(ReadOnlySpan<ulong> clumps) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(clumps));

    /// <summary>Adds an item to its clump, or takes it out (XOR is its own inverse).</summary>
    public void Toggle(ulong addressHash, long version, ReadOnlySpan<byte> value) =>
        _clumps[ClumpOf(addressHash, _clumps.Length)] ^= ItemHash(addressHash, version, value);

    /// <summary>Forgets every item.</summary>
    public void Clear() => Array.Clear(_clumps);

    /// <summary>A copy of the clump hashes.</summary>
    public ulong[] Copy() => (ulong[])_clumps.Clone();

    /// <summary>The clump hashes of a set of items computed from scratch (the store's rows, a test's expectation).</summary>
    public static ulong[] Compute(int clumps, IEnumerable<(ItemAddress Address, long Version, byte[] Value)> items)
    {
        var digest = new ClumpDigest(clumps);
        foreach (var (address, version, value) in items)
        {
            digest.Toggle(AddressHash(address), version, value);
        }

        return digest._clumps;
    }

    /// <summary>The clumps at which <paramref name="a"/> and <paramref name="b"/> differ (both of one count).</summary>
    public static int[] Differing(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        var differing = new List<int>();
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                differing.Add(i);
            }
        }

        return [.. differing];
    }
}
