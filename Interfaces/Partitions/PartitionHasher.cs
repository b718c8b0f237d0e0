using System.Buffers;
using System.Text;

namespace OrleansReplication;

/// <summary>
/// Maps (component, partition key) to a partition with a stable hash: the same on every silo,
/// client, process, platform and release. Changing it would move every item: it is a contract,
/// pinned by golden values in the tests.
/// </summary>
public static class PartitionHasher
{
    private const uint FnvOffsetBasis = 2166136261;
    private const uint FnvPrime = 16777619;
    private const int StackLimit = 512;

    /// <summary>
    /// The partition of an item of <paramref name="component"/> with <paramref name="partitionKey"/>
    /// among <paramref name="partitionCount"/>. Grain state (<see cref="GrainStateNames"/>) hashes
    /// by its prefix instead of its component, so all of one grain's states share a partition.
    /// </summary>
    public static int GetPartition(string component, string partitionKey, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(partitionCount);
        var domain = GrainStateNames.IsGrainState(component) ? GrainStateNames.ComponentPrefix : component;
        return (int)(Hash(domain, partitionKey) % (uint)partitionCount);
    }

    /// <summary>The partition of a grain's replicated state: that of its grain id (<c>type/key</c>).</summary>
    public static int GetGrainPartition(string grainId, int partitionCount) => GetPartition(GrainStateNames.ComponentPrefix, grainId, partitionCount);

    /// <summary>FNV-1a over the UTF-8 of component, a 0 byte, and partition key, finished with murmur3's fmix32 for avalanche.</summary>
    public static uint Hash(string component, string partitionKey)
    {
        var hash = FnvOffsetBasis;
        hash = Add(hash, component);
        hash = (hash ^ 0) * FnvPrime;
        hash = Add(hash, partitionKey);
        return Mix(hash);
    }

    private static uint Add(uint hash, string text)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        var buffer = max <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(max));
        var length = Encoding.UTF8.GetBytes(text, buffer);
        foreach (var b in buffer[..length])
        {
            hash = (hash ^ b) * FnvPrime;
        }

        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return hash;
    }

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }
}
