namespace OrleansReplication.Tests.Partitions;

/// <summary>
/// The partition hash is a cluster-wide contract: every silo, client and release must place an
/// item in the same partition. The golden values below were computed once and pin it forever;
/// a change here moves every stored item and needs a data migration, not a test update.
/// </summary>
public sealed class PartitionHasherTests
{
    public static TheoryData<string, string, uint, int, int> GoldenValues => new()
    {
        { "orders", "order-1", 1180365503u, 63, 703 },
        { "c", string.Empty, 615161230u, 14, 398 },
        { string.Empty, string.Empty, 91794203u, 27, 795 },
        { "inventory", "Ünïcødé-✓-日本語", 2573386074u, 26, 346 },
        { "emoji", "😀🚀", 1307625976u, 56, 504 },

        // Longer than the stack buffer: goes through the pooled-array path.
        { "long", new string('x', 1000), 2621907742u, 30, 798 },
        { "sessions", "user/42/cart", 2262331286u, 22, 918 },
    };

    [Theory]
    [MemberData(nameof(GoldenValues))]
    public void Hash_GoldenInputs_MatchPinnedValues(string component, string partitionKey, uint hash, int partitionOf64, int partitionOf1024)
    {
        Assert.Equal(hash, PartitionHasher.Hash(component, partitionKey));
        Assert.Equal(partitionOf64, PartitionHasher.GetPartition(component, partitionKey, 64));
        Assert.Equal(partitionOf1024, PartitionHasher.GetPartition(component, partitionKey, 1024));
    }

    [Fact]
    public void GetPartition_SameInputTwice_SamePartition()
    {
        for (var i = 0; i < 1000; i++)
        {
            var key = $"key-{i}";
            Assert.Equal(PartitionHasher.GetPartition("orders", key, 64), PartitionHasher.GetPartition("orders", string.Concat("key-", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), 64));
        }
    }

    [Fact]
    public void Hash_ComponentAndKeyBoundaryMoved_DiffersBecauseOfSeparator()
    {
        Assert.NotEqual(PartitionHasher.Hash("ab", "c"), PartitionHasher.Hash("a", "bc"));
        Assert.NotEqual(PartitionHasher.Hash("orders", "x"), PartitionHasher.Hash("orders2", "x"));
    }

    [Fact]
    public void GetPartition_100000KeysOver64Partitions_EachWithin25PercentOfMean()
    {
        const int keys = 100_000;
        const int partitions = 64;
        var counts = new int[partitions];
        for (var i = 0; i < keys; i++)
        {
            counts[PartitionHasher.GetPartition("orders", "order-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), partitions)]++;
        }

        var mean = keys / (double)partitions;
        for (var p = 0; p < partitions; p++)
        {
            Assert.True(Math.Abs(counts[p] - mean) <= mean * 0.25, $"Partition {p} got {counts[p]} keys; the mean is {mean:0.#} (allowed ±25%). Counts: {string.Join(", ", counts)}");
        }
    }

    [Fact]
    public void GetPartition_ZeroPartitions_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionHasher.GetPartition("c", "k", 0));
    }

    [Fact]
    public void GrainStates_OfOneGrain_ShareItsPartition_WhateverTheirNames()
    {
        for (var i = 0; i < 200; i++)
        {
            var grain = $"shoppingcart/user-{i}";
            var partition = PartitionHasher.GetGrainPartition(grain, 64);
            Assert.Equal(partition, PartitionHasher.GetPartition(GrainStateNames.Component("cart"), grain, 64));
            Assert.Equal(partition, PartitionHasher.GetPartition(GrainStateNames.Component("wishes"), grain, 64));
        }
    }
}
