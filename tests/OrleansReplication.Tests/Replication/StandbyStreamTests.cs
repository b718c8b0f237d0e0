using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

public sealed class StandbyStreamTests : ReplicationHarness
{
    [Fact]
    public async Task ConcurrentWriters_10000Writes_StandbyEndsIdenticalToPrimary()
    {
        const int Writers = 8;
        const int WritesPerWriter = 1250;
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < WritesPerWriter; i++)
            {
                // Shared keys across writers, and every seventh write a removal.
                var id = $"k{(w * 31 + i) % 97}";
                var write = i % 7 == 6 ? Remove(id) : Set(id, $"{{\"w\":{w},\"i\":{i}}}");
                await WriteAsync(partition, SafetyLevel.Applied, write);
            }
        })).ToArray();
        await Wait.ForAsync(Task.WhenAll(writers), TimeSpan.FromMinutes(2), "10,000 writes from 8 writers");

        Assert.True(link.InSync);
        Assert.Equal(partition.LastSequence, link.Standby.AppliedSequence);
        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.True(partition.LastSequence > 8000, $"only {partition.LastSequence} changes were numbered");
    }

    [Fact]
    public async Task SlowStandby_QueueOverflows_MarkedOutOfSyncWhileAppliedWritesCompleteAndItCatchesUpLater()
    {
        var partition = await StartPartitionAsync();
        var healthy = await AddStandbyAsync(partition, "healthy");
        var slow = await AddStandbyAsync(partition, "slow", new ReplicationOptions { LinkQueueRecords = 1, MaxAckDelay = Timeout.InfiniteTimeSpan });
        slow.Pause();

        // The first batch fills the stalled standby's queue (and waits for it); the next overflows it.
        var first = WriteAsync(partition, SafetyLevel.Applied, Set("k0", "0"));
        await Wait.UntilAsync(() => slow.QueuedRecords == 1, Deadline, "the first write to be queued on the stalled standby");
        for (var i = 1; i < 20; i++)
        {
            var result = (await WriteAsync(partition, SafetyLevel.Applied, Set($"k{i}", $"{i}")).WaitAsync(Deadline))[0];
            Assert.Equal(result.Version, healthy.Standby.Items.Get(Address($"k{i}"))!.Version);
        }

        await first.WaitAsync(Deadline);
        Assert.False(slow.InSync, "the stalled standby is still counted as in sync");
        Assert.True(healthy.InSync);
        Assert.True(slow.Standby.AppliedSequence < partition.LastSequence);
        Assert.True(slow.QueuedRecords <= 1, $"the slow standby's queue holds {slow.QueuedRecords} records, above its bound");

        slow.Resume();
        await Wait.UntilAsync(() => slow.InSync, Deadline, "the slow standby to be caught up and in sync again");
        await AssertStandbyMatchesAsync(partition, slow.Standby);
    }

    [Fact]
    public async Task SlowStandby_NoOtherInSyncStandby_AppliedWritesWaitForDurable()
    {
        var partition = await StartPartitionAsync();
        var slow = await AddStandbyAsync(partition, "slow", new ReplicationOptions { LinkQueueRecords = 1, MaxAckDelay = Timeout.InfiniteTimeSpan });
        slow.Pause();
        Store.Close();

        // The first batch fills the stalled standby's queue; the second overflows it.
        var first = WriteAsync(partition, SafetyLevel.Applied, Set("a", "1"));
        await Wait.UntilAsync(() => slow.QueuedRecords == 1, Deadline, "the first write to be queued on the stalled standby");
        var second = WriteAsync(partition, SafetyLevel.Applied, Set("b", "1"));
        await Wait.UntilAsync(() => !slow.InSync, Deadline, "the overflowing standby to be marked out of sync");
        await Wait.UntilAsync(() => Store.Waiting == 1, Deadline, "a flush to wait at the store");

        // No in-sync standby and nothing durable: neither write may be acknowledged.
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);

        Store.Open();
        var results = await Task.WhenAll(first, second).WaitAsync(Deadline);
        Assert.True(partition.DurableSequence >= results.Max(r => r[0].Version));
        Assert.Equal(0, slow.Standby.AppliedSequence);
    }

    [Fact]
    public async Task StalledStandby_QueueNotFull_MarkedOutOfSyncAfterMaxAckDelay()
    {
        var partition = await StartPartitionAsync();
        var stalled = await AddStandbyAsync(partition, "stalled", new ReplicationOptions { MaxAckDelay = TimeSpan.FromMilliseconds(200) });
        stalled.Pause();

        var result = (await WriteAsync(partition, SafetyLevel.Applied, Set("a", "1")).WaitAsync(Deadline))[0];

        Assert.False(stalled.InSync);
        Assert.Equal(0, stalled.Standby.AppliedSequence);
        Assert.True(partition.DurableSequence >= result.Version, "with the standby out of sync, the write must have waited for the store");
    }

    [Fact]
    public async Task CatchUp_GapWithinRetention_FromTheLogWithoutSnapshot()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1", new ReplicationOptions { LinkQueueRecords = 1 });
        Assert.Equal(1, link.LogCatchUps);
        link.Pause();

        for (var i = 0; i < 300; i++)
        {
            await WriteAsync(partition, SafetyLevel.Local, Set($"k{i % 40}", $"{i}")).WaitAsync(Deadline);
        }

        Assert.False(link.InSync);
        link.Resume();

        await Wait.UntilAsync(() => link.InSync, Deadline, "the standby to be caught up from the log");
        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.Equal(0, link.SnapshotsSent);
        Assert.Equal(2, link.LogCatchUps);
    }

    [Fact]
    public async Task CatchUp_GapBeyondRetention_BySnapshot()
    {
        var partition = await StartPartitionAsync(new ReplicationOptions { LogRetainedChanges = 50 });

        // One record queued, two changes per catch-up batch: the link cannot read the log ahead
        // into the paused standby's queue, so the gap outlives the log and needs a snapshot.
        var link = await AddStandbyAsync(partition, "standby-1", new ReplicationOptions { LinkQueueRecords = 1, CatchUpBatchChanges = 2 });
        link.Pause();

        for (var i = 0; i < 500; i++)
        {
            await WriteAsync(partition, SafetyLevel.Local, Set($"k{i % 60}", $"{i}")).WaitAsync(Deadline);
        }

        await WaitDurableAsync(partition);
        Assert.True(partition.Log.FirstSequence > link.Standby.AppliedSequence + 10, $"the log still starts at {partition.Log.FirstSequence}");
        link.Resume();

        await Wait.UntilAsync(() => link.InSync, Deadline, "the standby to be caught up by snapshot");
        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.True(link.SnapshotsSent >= 1, "the standby was not sent a snapshot");
    }

    [Fact]
    public async Task LateJoiner_AttachedAfter5000WritesWhileAWriterKeepsWriting_GetsSnapshotThenStreamAndMatchesPrimary()
    {
        var partition = await StartPartitionAsync(new ReplicationOptions { LogRetainedChanges = 1000 });
        for (var chunk = 0; chunk < 50; chunk++)
        {
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => WriteAsync(partition, SafetyLevel.Local, Set($"item-{(chunk * 100) + i}", $"{chunk}")))).WaitAsync(Deadline);
        }

        Assert.Equal(5000, partition.LastSequence);
        await WaitDurableAsync(partition);
        Assert.True(partition.Log.FirstSequence > 1, "the log still holds the first change: the joiner would not need a snapshot");

        using var stop = new CancellationTokenSource();
        var written = 0;
        var writer = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var id = $"item-{(i * 37) % 6000}";
                await WriteAsync(partition, SafetyLevel.Applied, i % 11 == 10 ? Remove(id) : Set(id, $"\"w{i}\""));
                Interlocked.Increment(ref written);
                i++;
            }
        });

        var link = await AddStandbyAsync(partition, "late-joiner", waitInSync: false);
        await Wait.UntilAsync(() => link.InSync, Deadline, "the late joiner to be in sync");
        var inSyncAt = Volatile.Read(ref written);
        await Wait.UntilAsync(() => Volatile.Read(ref written) >= inSyncAt + 300, Deadline, "300 more writes streamed to the joiner");
        await stop.CancelAsync();
        await writer.WaitAsync(Deadline);

        Assert.True(link.SnapshotsSent >= 1, "the late joiner was not sent a snapshot");
        Assert.True(link.InSync);
        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.True(link.Standby.Items.Count >= 4000);
    }

    [Fact]
    public async Task LateJoiner_PartitionReloadedFromTheStore_GetsSnapshotOfTheLoadedItems()
    {
        var first = await StartPartitionAsync();
        for (var i = 0; i < 30; i++)
        {
            await WriteAsync(first, SafetyLevel.Local, Set($"k{i}", $"{i}"));
        }

        await first.StopAsync().WaitAsync(Deadline);

        // A new primary: its log starts empty after the stored sequence.
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");

        Assert.Equal(1, link.SnapshotsSent);
        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.Equal(30, link.Standby.Items.Count);

        await WriteAsync(partition, SafetyLevel.Applied, Set("k0", "new")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(partition, link.Standby);
    }

    [Fact]
    public async Task RemoveLink_OnlyInSyncStandbyRemoved_AppliedWritesFallBackToDurable()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");
        await partition.RemoveLinkAsync(link);
        Assert.Empty(partition.Links);
        Store.Close();

        var write = WriteAsync(partition, SafetyLevel.Applied, Set("a", "1"));
        await Wait.UntilAsync(() => Store.Waiting == 1, Deadline, "the flush to wait at the store");
        Assert.False(write.IsCompleted);

        Store.Open();
        await write.WaitAsync(Deadline);
    }

    [Fact]
    public async Task CatchUpRequest_FromAnInSyncStandby_PrimaryResendsFromItsAppliedSequenceAndItRejoins()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");
        for (var i = 0; i < 100; i++)
        {
            await WriteAsync(partition, SafetyLevel.Applied, Set($"k{i % 13}", $"{i}")).WaitAsync(Deadline);
        }

        // As if the standby had refused a record at sequence 10: the primary restarts the stream there.
        link.OnAck(new ReplicationAck { Partition = partition.Id, Epoch = partition.Epoch, AppliedSequence = 10, ReceivedSequence = 10, CatchUpRequested = true });

        await Wait.UntilAsync(() => link.LogCatchUps == 2 && link.InSync, Deadline, "the standby to be caught up again from the log");
        Assert.Equal(0, link.SnapshotsSent);
        await WriteAsync(partition, SafetyLevel.Applied, Set("after", "1")).WaitAsync(Deadline);
        await AssertStandbyMatchesAsync(partition, link.Standby);
    }

    [Fact]
    public async Task Ack_WithAHigherEpoch_DeposesTheLinkAndWritesStopWaitingForIt()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");

        link.OnAck(new ReplicationAck { Partition = partition.Id, Epoch = partition.Epoch + 1 });

        Assert.Equal(ReplicaLinkState.Deposed, link.State);
        Assert.False(link.InSync);
        var result = (await WriteAsync(partition, SafetyLevel.Applied, Set("a", "1")).WaitAsync(Deadline))[0];
        Assert.True(partition.DurableSequence >= result.Version, "with its only standby deposed, the write must have waited for the store");
        Assert.Null(link.Standby.Items.Get(Address("a")));
    }
}
