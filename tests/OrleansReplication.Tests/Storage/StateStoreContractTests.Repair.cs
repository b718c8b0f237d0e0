using OrleansReplication.Silo.Storage;
using Xunit;

namespace OrleansReplication.Tests.Storage;

/// <summary>The store side of anti-entropy: <see cref="IStateStore.RepairAsync"/>.</summary>
public abstract partial class StateStoreContractTests
{
    [Fact]
    public async Task RepairAsync_RowsAtTheirExpectedVersions_RewritesThemAndKeepsTheHead()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 3, [Insert("a", 1, "{\"rotten\":1}"), Insert("b", 2, "{}"), Insert("c", 3, "{}")], CancellationToken.None);

        var repaired = await store.RepairAsync(1, 1, [Update("a", 1, 1, "{\"n\":1}"), Delete("b", 2, 2), Insert("d", 2, "{\"n\":2}")], CancellationToken.None);

        Assert.Equal(3, repaired);
        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 3, ("a", 1, "{\"n\":1}"), ("c", 3, "{}"), ("d", 2, "{\"n\":2}"));
    }

    [Fact]
    public async Task RepairAsync_RowsWrittenSinceTheyWereRead_LeftAloneAndNotCounted()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 2, [Insert("a", 2, "{\"new\":1}"), Insert("b", 1, "{}")], CancellationToken.None);

        // Read at versions the persister has since moved past: a repair must not undo its writes.
        var repaired = await store.RepairAsync(1, 1, [Update("a", 1, 1, "{\"old\":1}"), Insert("b", 1, "{\"old\":1}"), Delete("c", 1, 1), Update("b", 1, 1, "{\"n\":1}")], CancellationToken.None);

        Assert.Equal(1, repaired);
        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 2, ("a", 2, "{\"new\":1}"), ("b", 1, "{\"n\":1}"));
    }

    [Fact]
    public async Task RepairAsync_LaterEpochLeads_ThrowsStaleEpochAndWritesNothing()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 2, 1, [Insert("a", 1, "{}")], CancellationToken.None);

        var stale = await Assert.ThrowsAsync<StaleEpochException>(() => store.RepairAsync(1, 1, [Update("a", 1, 1, "{\"n\":1}")], CancellationToken.None));

        Assert.Equal(2, stale.StoredEpoch);
        await AssertPartitionAsync(store, 1, epoch: 2, lastSequence: 1, ("a", 1, "{}"));
    }

    [Fact]
    public async Task RepairAsync_EpochNotStoredYet_RaisedWithTheRepairAndEarlierPrimariesFenced()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 2, 1, [Insert("a", 1, "{}")], CancellationToken.None);

        // A primary of epoch 3 that wrote nothing yet repairs a row: the head takes its epoch, not a new sequence.
        Assert.Equal(1, await store.RepairAsync(1, 3, [Update("a", 1, 1, "{\"n\":1}")], CancellationToken.None));

        await AssertPartitionAsync(store, 1, epoch: 3, lastSequence: 1, ("a", 1, "{\"n\":1}"));
        await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(1, 2, 2, [Insert("b", 2, "{}")], CancellationToken.None));
        await store.CommitAsync(1, 3, 2, [Insert("b", 2, "{}")], CancellationToken.None);
    }
}
