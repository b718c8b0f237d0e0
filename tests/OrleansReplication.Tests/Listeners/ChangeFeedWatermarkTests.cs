using OrleansReplication.Silo.Listeners;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A listener sees only what survives the primary's crash (the Applied watermark), and a listener
/// parked on a partition that stops being served is woken and told to resume elsewhere.
/// </summary>
public sealed class ChangeFeedWatermarkTests : ReplicationHarness
{
    // Heartbeats show that the reader looked at the log and found nothing it may deliver.
    private static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(50);

    // A paused standby stays in sync (and holds the watermark) however long the test takes.
    private static readonly ReplicationOptions Options = new() { MaxAckDelay = Timeout.InfiniteTimeSpan };

    [Fact]
    public async Task ReadAsync_PartitionStopsWhileListenerWaits_DeliversWhatSurvivedThenEndsResumable()
    {
        var partition = await StartPartitionAsync(Options);
        using var subscription = Open(partition);
        await subscription.CaptureSnapshotsAsync(default);
        // No heartbeat, as the cluster watch reads its local partitions: only the partition wakes it.
        await using var events = subscription.ReadAsync(Timeout.InfiniteTimeSpan, default).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
        Assert.Equal(ChangeKind.SnapshotEnd, Assert.Single(events.Current).Kind);

        var written = await WriteAsync(partition, SafetyLevel.Applied, Set("a", "1")).WaitAsync(Deadline);
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
        Assert.Equal(written[0].Version, Assert.Single(events.Current).Version);

        var next = events.MoveNextAsync().AsTask();
        await partition.StopAsync().WaitAsync(Deadline);

        var error = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => next.WaitAsync(Deadline));
        Assert.Contains("resume from the last cursor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_PartitionFencedWhileListenerWaits_EndsResumableWithoutItsLostChange()
    {
        var deposed = await StartPartitionAsync(Options);
        var first = await WriteAsync(deposed, SafetyLevel.Durable, Set("a", "1")).WaitAsync(Deadline);
        using var subscription = Open(deposed);
        await subscription.CaptureSnapshotsAsync(default);
        await using var events = subscription.ReadAsync(Timeout.InfiniteTimeSpan, default).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
        var next = events.MoveNextAsync().AsTask();

        // Another primary takes the partition (a higher epoch) and writes; the deposed one applies
        // a write the store then refuses: that change is lost, and the sequence is the successor's.
        var successor = await StartPartitionAsync(Options);
        Assert.True(successor.Epoch > deposed.Epoch);
        await WriteAsync(successor, SafetyLevel.Durable, Set("a", "2")).WaitAsync(Deadline);
        await WriteAsync(deposed, SafetyLevel.Local, Set("a", "lost")).WaitAsync(Deadline);
        await Wait.UntilAsync(() => deposed.Status == PartitionStatus.Fenced, Deadline, "the deposed primary to be fenced by the store");

        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => next.WaitAsync(Deadline));
        Assert.Equal(first[0].Version, deposed.AppliedWatermark);
        Assert.Equal([first[0].Version], ChangeCursor.Decode(subscription.Cursor, 1));
    }

    [Fact]
    public async Task ReadAsync_StandbyPaused_DeliversNothingPastTheAppliedWatermarkUntilItApplies()
    {
        var partition = await StartPartitionAsync(Options);
        var link = await AddStandbyAsync(partition, "standby", Options);
        using var subscription = Open(partition);
        await subscription.CaptureSnapshotsAsync(default);
        await using var events = subscription.ReadAsync(Heartbeat, default).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
        Assert.Equal(ChangeKind.SnapshotEnd, Assert.Single(events.Current).Kind);

        // Applied on the primary only: a crash now would lose it.
        link.Pause();
        var written = await WriteAsync(partition, SafetyLevel.Local, Set("a", "1")).WaitAsync(Deadline);
        Assert.Equal(written[0].Version, partition.LastSequence);
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
        Assert.Empty(events.Current);
        Assert.True(partition.AppliedWatermark < written[0].Version, $"the watermark ({partition.AppliedWatermark}) passed the unreplicated change");
        Assert.True(link.InSync);

        link.Resume();
        var change = Assert.Single(await NextEventsAsync(events));
        Assert.Equal(("a", written[0].Version), (change.Address.Id, change.Version));
        Assert.True(partition.AppliedWatermark >= written[0].Version);
        Assert.Equal([written[0].Version], ChangeCursor.Decode(change.Cursor!, 1));
    }

    [Fact]
    public async Task ReadAsync_SnapshotPastTheAppliedWatermark_IsHeldBackUntilTheStandbyApplies()
    {
        var partition = await StartPartitionAsync(Options);
        var link = await AddStandbyAsync(partition, "standby", Options);
        link.Pause();
        var written = await WriteAsync(partition, SafetyLevel.Local, Set("a", "1")).WaitAsync(Deadline);

        using var subscription = Open(partition);
        await subscription.CaptureSnapshotsAsync(default);
        await using var events = subscription.ReadAsync(Heartbeat, default).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
        Assert.Empty(events.Current);
        Assert.True(partition.AppliedWatermark < written[0].Version);

        link.Resume();
        var snapshot = await NextEventsAsync(events);
        Assert.Equal(2, snapshot.Count);
        Assert.Equal((ChangeKind.Set, "a", written[0].Version), (snapshot[0].Kind, snapshot[0].Address.Id, snapshot[0].Version));
        Assert.Equal(ChangeKind.SnapshotEnd, snapshot[1].Kind);
        Assert.Equal([written[0].Version], ChangeCursor.Decode(snapshot[1].Cursor!, 1));
    }

    private static ChangeSubscription Open(Partition partition) =>
        new(Component, string.Empty, [partition], new long[1], Options, TimeProvider.System);

    // The next batch with events, past heartbeats.
    private static async Task<IReadOnlyList<ChangeFeedEvent>> NextEventsAsync(IAsyncEnumerator<IReadOnlyList<ChangeFeedEvent>> events)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < Deadline)
        {
            Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Deadline));
            if (events.Current.Count > 0)
            {
                return events.Current;
            }
        }

        throw new TimeoutException($"No event within {Deadline.TotalSeconds:0} s.");
    }
}
