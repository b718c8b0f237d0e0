using OrleansReplication.Silo.Listeners;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.Listeners;

/// <summary>One listener's feed over a real partition: wake-ups without polling, and a slow listener that the log leaves behind.</summary>
public sealed class ChangeSubscriptionTests : ReplicationHarness
{
    [Fact]
    public async Task ReadAsync_ChangeCommittedWhileWaiting_WakesAndDeliversIt()
    {
        var options = new ReplicationOptions();
        var partition = await StartPartitionAsync(options);
        using var subscription = Open(partition, options);
        await subscription.CaptureSnapshotsAsync(default);
        await using var events = subscription.ReadAsync(Timeout.InfiniteTimeSpan, default).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(ChangeKind.SnapshotEnd, Assert.Single(events.Current).Kind);

        var next = events.MoveNextAsync().AsTask();
        await WriteAsync(partition, SafetyLevel.Local, Set("a", "1"));

        Assert.True(await next.WaitAsync(Deadline));
        var change = Assert.Single(events.Current);
        Assert.Equal((ChangeKind.Set, "a", 1L), (change.Kind, change.Address.Id, change.Version));
        Assert.Equal([1L], ChangeCursor.Decode(change.Cursor!, 1));
    }

    [Fact]
    public async Task ReadAsync_ListenerFallsBehindRetention_EndsWithCursorExpired()
    {
        var options = new ReplicationOptions { LogRetainedChanges = 10 };
        var partition = await StartPartitionAsync(options);
        using var subscription = Open(partition, options);
        await subscription.CaptureSnapshotsAsync(default);
        await using var events = subscription.ReadAsync(Timeout.InfiniteTimeSpan, default).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync());

        // Durable, so evictable; 100 is past the 4x retention the listener's pin may hold.
        for (var i = 0; i < 100; i++)
        {
            await WriteAsync(partition, SafetyLevel.Durable, Set("k" + i, "1"));
        }

        await Assert.ThrowsAsync<CursorExpiredException>(async () => await events.MoveNextAsync());
    }

    private static ChangeSubscription Open(Partition partition, ReplicationOptions options) =>
        new(Component, string.Empty, [partition], new long[1], options, TimeProvider.System);
}
