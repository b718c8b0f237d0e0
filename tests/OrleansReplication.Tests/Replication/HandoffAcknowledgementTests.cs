using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// A write applied on the standby that takes the partition over is the new primary's state: when
/// the old primary stops after a handoff, the writes still waiting for a slower standby's ack are
/// acknowledged, not failed as "stopped before the write reached its safety level" (a graceful
/// drain must not fail writes that are safe). Writes the successor lacks still fail.
/// </summary>
public sealed class HandoffAcknowledgementTests : ReplicationHarness
{
    // The store stays closed: only the successor's ack can complete the writes.
    private static readonly ReplicationOptions QuickStop = new() { StopFlushTimeout = TimeSpan.FromMilliseconds(200) };

    [Fact]
    public async Task StoppedForASuccessor_WritesItApplied_AreAcknowledged_OthersFail()
    {
        var (partition, successor) = await StartWithLaggingStandbyAsync(QuickStop);

        var applied = WriteAsync(partition, SafetyLevel.Applied, Set("a", "1"));
        await Wait.UntilAsync(() => successor.AppliedSequence >= 1, Deadline, "the successor to apply the first write");
        successor.Pause();
        var notOnSuccessor = WriteAsync(partition, SafetyLevel.Applied, Set("b", "1"));
        await Wait.UntilAsync(() => partition.LastSequence == 2, Deadline, "the second write to be applied on the primary");
        Assert.False(applied.IsCompleted, "the lagging standby has not applied the first write, so it waits");

        await partition.StopAsync(successor: "successor").WaitAsync(Deadline);

        Assert.Equal(1, (await applied.WaitAsync(Deadline))[0].Version);
        var error = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => notOnSuccessor.WaitAsync(Deadline));
        Assert.Contains("before the write reached its safety level", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoppedWithoutSuccessor_WritesWaitingForStandbys_Fail()
    {
        var (partition, successor) = await StartWithLaggingStandbyAsync(QuickStop);

        var write = WriteAsync(partition, SafetyLevel.Applied, Set("a", "1"));
        await Wait.UntilAsync(() => successor.AppliedSequence >= 1, Deadline, "the successor to apply the write");

        await partition.StopAsync().WaitAsync(Deadline);

        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => write.WaitAsync(Deadline));
    }

    [Fact]
    public async Task MarkedHandedOff_WritesUpToTheSeal_AreAcknowledgedAtOnce()
    {
        var (partition, successor) = await StartWithLaggingStandbyAsync();

        var write = WriteAsync(partition, SafetyLevel.Applied, Set("a", "1"));
        await Wait.UntilAsync(() => partition.LastSequence == 1, Deadline, "the write to be applied on the primary");
        var sealedAt = await partition.SealAsync().WaitAsync(Deadline);
        Assert.Equal(1, sealedAt);
        await Wait.UntilAsync(() => successor.AppliedSequence >= sealedAt, Deadline, "the successor to catch up to the seal");
        Assert.False(write.IsCompleted, "the lagging standby has not applied the write, so it waits");

        partition.MarkHandedOff(sealedAt);

        Assert.True(partition.HandedOff);
        Assert.Equal(1, (await write.WaitAsync(Deadline))[0].Version);
        Assert.True(partition.HoldsForHandoff, "writes arriving now are held for the redirect, not committed here");

        // A later handoff attempt that gives up (planned on a map read before this move) must not
        // make the partition commit again: its history goes on at the new primary.
        partition.Unseal();
        Assert.True(partition.HoldsForHandoff);
        await Assert.ThrowsAsync<PartitionMovedException>(() => partition.SealAsync());
        var late = WriteAsync(partition, SafetyLevel.Local, Set("b", "1"));
        await Wait.UntilAsync(() => partition.HeldRequests == 1, Deadline, "the late write to be held");
        Assert.False(late.IsCompleted, "a write was committed on a partition handed off");
        Assert.Equal(1, partition.LastSequence);
        partition.FailHeld(new PartitionMovedException(partition.Id, "moved"));
        await Assert.ThrowsAsync<PartitionMovedException>(() => late.WaitAsync(Deadline));
    }

    // A primary with two in-sync standbys, the store closed and the "lagging" one stalled: an
    // Applied write completes only through the "successor" (or never).
    private async Task<(Partition Partition, InProcessReplicaLink Successor)> StartWithLaggingStandbyAsync(ReplicationOptions? options = null)
    {
        var partition = await StartPartitionAsync(options);
        var successor = await AddStandbyAsync(partition, "successor");
        var lagging = await AddStandbyAsync(partition, "lagging");
        Store.Close();
        lagging.Pause();
        return (partition, successor);
    }
}
