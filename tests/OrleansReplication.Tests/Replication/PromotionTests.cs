using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>A standby's warm copy becomes the primary while the store lags behind acknowledged writes.</summary>
public sealed class PromotionTests : ReplicationHarness
{
    [Fact]
    public async Task StartFromWarmCopy_StoreBehindAckedWrites_LosesNothingAndFencesOldPrimary()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        Store.Close(); // the old primary's persister cannot reach the store: acks at Applied come from the standby alone

        var acked = new Dictionary<string, long>();
        for (var i = 0; i < 50; i++)
        {
            var result = await WriteAsync(primary, SafetyLevel.Applied, Set("k" + i, $"{{\"n\":{i}}}")).WaitAsync(Deadline);
            acked["k" + i] = result[0].Version;
        }

        Assert.Empty((await Sqlite.LoadPartitionAsync(0, default)).Items);

        // The old primary is now "dead" (never stopped); its standby takes over at the next epoch.
        var copy = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        link.Standby.Items.CopyTo(copy);
        var promoted = new Partition(0, Sqlite, NullLogger.Instance);
        try
        {
            await promoted.StartFromWarmCopyAsync(new WarmCopy(copy, link.Standby.AppliedSequence, link.Standby.Epoch, link.Standby.Requests), primary.Epoch + 1, default);

            foreach (var (id, version) in acked)
            {
                Assert.Equal(version, promoted.Items.Get(Address(id))?.Version);
            }

            var stored = await Sqlite.LoadPartitionAsync(0, default);
            Assert.Equal(50, stored.Items.Count);
            Assert.Equal(primary.Epoch + 1, stored.Epoch);

            var next = await WriteAsync(promoted, SafetyLevel.Durable, Set("after", "1")).WaitAsync(Deadline);
            Assert.True(next[0].Version > acked.Values.Max(), "The promoted primary reused a version.");

            // The old primary wakes up: its pending persist is fenced, it stops serving.
            Store.Open();
            await Wait.UntilAsync(() => Task.FromResult(primary.Status == PartitionStatus.Fenced), Deadline, "the deposed primary to be fenced by the store");
            await Assert.ThrowsAsync<ReplicaUnavailableException>(() => WriteAsync(primary, SafetyLevel.Local, Set("late", "1")));
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_CopyAtStoredSequence_ReadsNoItemsAndKeepsRemovalsAndRequests()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("kept", "1"), Set("removed", "2")).WaitAsync(Deadline);
        var request = new CommitRequest(Component, [Set("idem", "3")], SafetyLevel.Durable, new RequestKey("client-1", 1));
        var acked = await primary.CommitAsync(request).WaitAsync(Deadline);
        await WriteAsync(primary, SafetyLevel.Durable, Remove("removed")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(primary, link.Standby);
        var loadsBefore = Store.FullLoads;

        var promoted = await PromoteAsync(primary, link, WarmCopyOf(link));
        try
        {
            Assert.Equal(loadsBefore, Store.FullLoads);
            Assert.Equal(Contents(primary.Items), Contents(promoted.Items));
            Assert.Null(promoted.Items.Get(Address("removed")));
            Assert.Equal(primary.LastSequence, promoted.LastSequence);

            // The retried request is answered from the recorded one, not applied again.
            var retried = await promoted.CommitAsync(new CommitRequest(Component, [Set("idem", "4")], SafetyLevel.Durable, new RequestKey("client-1", 1))).WaitAsync(Deadline);
            Assert.Equal(acked[0].Version, retried[0].Version);
            Assert.Equal("3", Encoding.UTF8.GetString(promoted.Items.Get(Address("idem"))!.Json));
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_StoreAheadWithRemovalTheCopyMissed_ReadsTheStoreAndKeepsTheRemoval()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("a", "1"), Set("b", "2")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(primary, link.Standby);
        var behind = WarmCopyOf(link);

        // Persisted but never applied by this copy: the store has no tombstone, only a missing row.
        var removal = await WriteAsync(primary, SafetyLevel.Durable, Remove("a")).WaitAsync(Deadline);
        var loadsBefore = Store.FullLoads;

        var promoted = await PromoteAsync(primary, link, behind);
        try
        {
            Assert.Equal(loadsBefore + 1, Store.FullLoads);
            Assert.Null(promoted.Items.Get(Address("a")));
            Assert.NotNull(promoted.Items.Get(Address("b")));
            Assert.True(promoted.LastSequence >= removal[0].Version, "The promoted primary continued below the persisted removal.");
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_AnEpochBetweenCopyAndPromotion_ReadsTheStore()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("a", "1")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(primary, link.Standby);
        var loadsBefore = Store.FullLoads;

        // A primary of the epoch in between may have written the same sequences differently.
        var promoted = await PromoteAsync(primary, link, WarmCopyOf(link), epochsSkipped: 1);
        try
        {
            Assert.Equal(loadsBefore + 1, Store.FullLoads);
            Assert.Equal(Contents(primary.Items), Contents(promoted.Items));
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_AdoptableCopyAtStoredSequence_ServesFromTheStandbysTableItself()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("a", "1"), Set("b", "2")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(primary, link.Standby);
        var adoptedAt = 0L;
        var copy = WarmCopyOf(link) with { Adopt = epoch => { adoptedAt = epoch; return link.Standby.Items; } };

        var promoted = await PromoteAsync(primary, link, copy);
        try
        {
            Assert.Same(link.Standby.Items, promoted.Items);
            Assert.Equal(primary.Epoch + 1, adoptedAt);
            var next = await WriteAsync(promoted, SafetyLevel.Durable, Set("a", "3")).WaitAsync(Deadline);
            Assert.Equal(next[0].Version, promoted.Items.Get(Address("a"))?.Version);
            Assert.Equal(["a", "b"], Contents(promoted.Items).Select(i => i.Address.Id));
            Assert.Equal([("a", 1L, "1"), ("b", 2L, "2"), ("a", next[0].Version, "3")], History(promoted.Log, 1));
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_CopyAheadOfTheStore_LogContinuesTheStandbysTail_RemovalsIncluded()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("a", "1"), Set("b", "2")).WaitAsync(Deadline);
        Store.Close(); // from here on only the standby has the changes
        await WriteAsync(primary, SafetyLevel.Applied, Remove("a")).WaitAsync(Deadline);
        await WriteAsync(primary, SafetyLevel.Applied, Set("b", "3"), Set("c", "4")).WaitAsync(Deadline);
        var expected = History(primary.Log, 1);

        var promoted = new Partition(0, Sqlite, NullLogger.Instance);
        try
        {
            Assert.Equal(WarmStart.TailPersisted, await promoted.StartFromWarmCopyAsync(WarmCopyOf(link), primary.Epoch + 1, default));

            // The old primary's history, as its standby applied it, then the new primary's changes.
            Assert.Equal(1, promoted.Log.StartSequence);
            Assert.Equal(expected, History(promoted.Log, 1));
            Assert.Equal(promoted.LastSequence, promoted.DurableSequence);
            var next = await WriteAsync(promoted, SafetyLevel.Durable, Remove("c")).WaitAsync(Deadline);
            Assert.Equal([.. expected, ("c", next[0].Version, null)], History(promoted.Log, 1));

            // The merge reached the store, and the new change after it.
            var stored = await Sqlite.LoadPartitionAsync(0, default);
            Assert.Equal(["b"], stored.Items.Select(i => i.Id));
            Assert.Equal(next[0].Version, stored.LastSequence);
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_StoreBehindByMoreThanTheTail_MergesEveryRow_LosesNothing()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("a", "1"), Set("b", "2")).WaitAsync(Deadline);
        Store.Close(); // from here on only the standby has the changes
        await WriteAsync(primary, SafetyLevel.Applied, Remove("a")).WaitAsync(Deadline);
        await WriteAsync(primary, SafetyLevel.Applied, Set("c", "3")).WaitAsync(Deadline);

        // A tail that kept only the last change: the removal of "a" is not in it.
        var copy = WarmCopyOf(link);
        copy = copy with { Tail = new LogTail(copy.Tail!.Entries[^1].Sequence, copy.Tail.Entries[^1..]) };
        var promoted = new Partition(0, Sqlite, NullLogger.Instance);
        try
        {
            Assert.Equal(WarmStart.Merged, await promoted.StartFromWarmCopyAsync(copy, primary.Epoch + 1, default));
            var stored = await Sqlite.LoadPartitionAsync(0, default);
            Assert.Equal(["b", "c"], stored.Items.Select(i => i.Id).Order());
            Assert.Equal(["b", "c"], Contents(promoted.Items).Select(i => i.Address.Id).Order());
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task StartFromWarmCopy_StoreAheadOfTheCopy_LogStartsAtThePromotion()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        await WriteAsync(primary, SafetyLevel.Durable, Set("a", "1")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(primary, link.Standby);
        var behind = WarmCopyOf(link);
        await WriteAsync(primary, SafetyLevel.Durable, Remove("a")).WaitAsync(Deadline);

        // The copy's history does not lead to the store's state: a listener must be told so.
        var promoted = await PromoteAsync(primary, link, behind);
        try
        {
            Assert.Equal(promoted.LastSequence + 1, promoted.Log.StartSequence);
            Assert.Equal(promoted.Log.StartSequence, promoted.Log.FirstSequence);
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    private static List<(string Id, long Sequence, string? Json)> History(ReplicationLog log, long from)
    {
        var entries = new List<LogEntry>();
        Assert.True(log.TryRead(from, int.MaxValue, entries), $"The log no longer holds sequence {from}.");
        return [.. entries.Select(e => (e.Address.Id, e.Sequence, e.Value is null ? null : Encoding.UTF8.GetString(e.Value)))];
    }

    private static WarmCopy WarmCopyOf(InProcessReplicaLink link)
    {
        var items = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        link.Standby.Items.CopyTo(items);
        return new WarmCopy(items, link.Standby.AppliedSequence, link.Standby.Epoch, link.Standby.Requests) { Tail = link.Standby.Tail };
    }

    private async Task<Partition> PromoteAsync(Partition primary, InProcessReplicaLink link, WarmCopy copy, int epochsSkipped = 0)
    {
        await primary.StopAsync().WaitAsync(Deadline);
        await link.DisposeAsync();
        var promoted = new Partition(0, Store, NullLogger.Instance);
        var stored = (await Sqlite.LoadPartitionHeadAsync(0, default)).LastSequence;
        var expected = epochsSkipped > 0 || copy.Applied < stored || (copy.Applied > stored && copy.Tail is null) ? WarmStart.Merged
            : copy.Applied == stored ? WarmStart.StoreAtCopy
            : WarmStart.TailPersisted;
        Assert.Equal(expected, await promoted.StartFromWarmCopyAsync(copy, primary.Epoch + 1 + epochsSkipped, default));
        return promoted;
    }
}
