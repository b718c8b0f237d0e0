using System.Text;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Partitions;

public sealed class WarmCopyMergeTests
{
    [Fact]
    public void Merge_CopyAhead_KeepsCopyAndWritesItToStore()
    {
        var result = WarmCopyMerge.Merge(Copy(("a", 3), ("b", 2)), copyApplied: 3, Store(1, ("a", 1)));

        Assert.Equal([("a", 3L), ("b", 2L)], Items(result));
        Assert.Equal(3, result.LastSequence);
        Assert.Contains(result.StoreWrites, w => w.Id == "a" && w.ExpectedVersion == 1 && w.NewVersion == 3);
        Assert.Contains(result.StoreWrites, w => w.Id == "b" && w.ExpectedVersion == 0 && w.NewVersion == 2);
    }

    [Fact]
    public void Merge_StoreAhead_KeepsStoreAndWritesNothing()
    {
        var result = WarmCopyMerge.Merge(Copy(("a", 2)), copyApplied: 2, Store(5, ("a", 5)));

        Assert.Equal([("a", 5L)], Items(result));
        Assert.Empty(result.StoreWrites);
        Assert.Equal(5, result.LastSequence);
    }

    [Fact]
    public void Merge_OnlyInCopyAtOrBelowStoreHorizon_DroppedAsPersistedRemoval()
    {
        var result = WarmCopyMerge.Merge(Copy(("gone", 3), ("new", 7)), copyApplied: 7, Store(4));

        Assert.Equal([("new", 7L)], Items(result));
        Assert.DoesNotContain(result.StoreWrites, w => w.Id == "gone");
    }

    [Fact]
    public void Merge_OnlyInStoreAtOrBelowCopyHorizon_RemovedFromStore()
    {
        var result = WarmCopyMerge.Merge(Copy(("x", 6)), copyApplied: 6, Store(3, ("x", 2), ("removed", 3)));

        Assert.Equal([("x", 6L)], Items(result));
        var delete = Assert.Single(result.StoreWrites, w => w.Id == "removed");
        Assert.Null(delete.Value);
        Assert.Equal(3, delete.ExpectedVersion);
    }

    [Fact]
    public void Merge_OnlyInStoreAboveCopyHorizon_KeptAsMissedByCopy()
    {
        var result = WarmCopyMerge.Merge(Copy(("a", 1)), copyApplied: 1, Store(4, ("a", 1), ("late", 4)));

        Assert.Equal([("a", 1L), ("late", 4L)], Items(result));
        Assert.Empty(result.StoreWrites);
    }

    private static List<KeyValuePair<ItemAddress, ItemEntry>> Copy(params (string Id, long Version)[] items) =>
        [.. items.Select(i => KeyValuePair.Create(new ItemAddress("c", string.Empty, i.Id), new ItemEntry(i.Version, Encoding.UTF8.GetBytes(i.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)))))];

    private static PartitionData Store(long lastSequence, params (string Id, long Version)[] items) =>
        new(0, 1, lastSequence, [.. items.Select(i => new StoredItem("c", string.Empty, i.Id, i.Version, Encoding.UTF8.GetBytes(i.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))))]);

    private static List<(string, long)> Items(WarmCopyMerge.Result result) =>
        [.. result.Items.Select(i => (i.Key.Id, i.Value.Version)).OrderBy(i => i.Id, StringComparer.Ordinal)];
}
