using OrleansReplication.Silo.Listeners;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.Listeners;

/// <summary>A listener parked on a partition that stops being served is woken and told to resume elsewhere.</summary>
public sealed class ChangeFeedWatermarkTests : ReplicationHarness
{
    private static readonly ReplicationOptions Options = new();

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

    private static ChangeSubscription Open(Partition partition) =>
        new(Component, string.Empty, [partition], new long[1], Options, TimeProvider.System);
}
