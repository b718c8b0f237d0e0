using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Tests.Replication;

public sealed class ReplicationLogTests
{
    [Fact]
    public void TryRead_FromRetainedSequence_ReturnsContiguousChangesInOrder()
    {
        var log = new ReplicationLog(10, new ReplicationOptions());
        log.Append(Changes(11, 5));

        var read = new List<LogEntry>();
        Assert.True(log.TryRead(13, 100, read));

        Assert.Equal([13L, 14L, 15L], read.Select(e => e.Sequence));
        Assert.Equal(15, log.LastSequence);
    }

    [Fact]
    public void TryRead_PastTheEnd_ReturnsTrueWithNothing()
    {
        var log = new ReplicationLog(0, new ReplicationOptions());
        log.Append(Changes(1, 3));

        var read = new List<LogEntry>();
        Assert.True(log.TryRead(4, 100, read));
        Assert.Empty(read);
    }

    [Fact]
    public void Append_BeyondRetention_EvictsOnlyPersistedChanges()
    {
        var log = new ReplicationLog(0, new ReplicationOptions { LogRetainedChanges = 10 });
        log.Append(Changes(1, 30));

        // Nothing is persisted yet: everything stays, whatever the bound.
        Assert.Equal(30, log.Count);
        Assert.Equal(1, log.FirstSequence);

        log.MarkDurable(25);

        // Evicted down to the bound, but never past the durable sequence.
        Assert.Equal(10, log.Count);
        Assert.Equal(21, log.FirstSequence);
        var read = new List<LogEntry>();
        Assert.False(log.TryRead(20, 100, read));
        Assert.True(log.TryRead(21, 100, read));
        Assert.Equal(10, read.Count);
    }

    [Fact]
    public void MarkDurable_UnpersistedCountsFollow()
    {
        var log = new ReplicationLog(0, new ReplicationOptions());
        log.Append(Changes(1, 8));
        Assert.Equal(8, log.UnpersistedChanges);
        Assert.True(log.UnpersistedBytes > 0);

        log.MarkDurable(8);

        Assert.Equal(0, log.UnpersistedChanges);
        Assert.Equal(0, log.UnpersistedBytes);
        Assert.Equal(8, log.DurableSequence);
    }

    [Fact]
    public void TryRead_ByteBudget_StopsAfterBudgetButReturnsAtLeastOne()
    {
        var log = new ReplicationLog(0, new ReplicationOptions());
        log.Append(Changes(1, 10, valueBytes: 1000));

        var read = new List<LogEntry>();
        Assert.True(log.TryRead(1, 100, 2500, read));
        Assert.Equal(2, read.Count);

        read.Clear();
        Assert.True(log.TryRead(1, 100, 1, read));
        Assert.Single(read);
    }

    [Fact]
    public void Pin_HoldsChangesUntilMoved()
    {
        var log = new ReplicationLog(0, new ReplicationOptions { LogRetainedChanges = 10 });
        using var pin = log.PinFrom(5);
        log.Append(Changes(1, 30));
        log.MarkDurable(30);

        Assert.Equal(5, log.FirstSequence);

        pin.MoveTo(25);
        Assert.Equal(21, log.FirstSequence);
    }

    [Fact]
    public void Pin_PastTheHardCap_LosesAndTheLogStaysBounded()
    {
        var log = new ReplicationLog(0, new ReplicationOptions { LogRetainedChanges = 10 });
        using var pin = log.PinFrom(1);
        log.Append(Changes(1, 100));
        log.MarkDurable(100);

        Assert.Equal(10 * ReplicationLog.PinnedRetentionFactor, log.Count);
        Assert.False(log.TryRead(1, 1, new List<LogEntry>()));
    }

    [Fact]
    public void Pin_Disposed_ReleasesChanges()
    {
        var log = new ReplicationLog(0, new ReplicationOptions { LogRetainedChanges = 10 });
        var pin = log.PinFrom(1);
        log.Append(Changes(1, 20));
        log.MarkDurable(20);
        Assert.Equal(20, log.Count);

        pin.Dispose();

        Assert.Equal(10, log.Count);
    }

    [Fact]
    public void Append_NotFollowingLastSequence_Throws()
    {
        var log = new ReplicationLog(5, new ReplicationOptions());

        Assert.Throws<InvalidOperationException>(() => log.Append(Changes(7, 1)));
        Assert.Throws<InvalidOperationException>(() => log.Append([Change(6), Change(8)]));
        Assert.Equal(5, log.LastSequence);
    }

    [Fact]
    public void Append_ManyChanges_RingGrowsAndKeepsOrder()
    {
        var log = new ReplicationLog(0, new ReplicationOptions());
        for (var i = 0; i < 50; i++)
        {
            log.Append(Changes((i * 100) + 1, 100));
            if (i % 3 == 0)
            {
                log.MarkDurable(log.LastSequence - 50);
            }
        }

        var read = new List<LogEntry>();
        Assert.True(log.TryRead(1, int.MaxValue, read));
        Assert.Equal(Enumerable.Range(1, 5000).Select(i => (long)i), read.Select(e => e.Sequence));
    }

    [Fact]
    public void ContinuingATail_HoldsItsHistoryAsPersisted_AndAppendsAfterIt()
    {
        var log = new ReplicationLog(5, Changes(11, 5), 15, new ReplicationOptions());

        // Started at 5, retained from 11: a position before 10 was evicted, not never held.
        Assert.Equal((5L, 11L, 15L, 15L), (log.StartSequence, log.FirstSequence, log.LastSequence, log.DurableSequence));
        log.Append(Changes(16, 1));
        var read = new List<LogEntry>();
        Assert.True(log.TryRead(11, 100, read));
        Assert.Equal([11L, 12L, 13L, 14L, 15L, 16L], read.Select(e => e.Sequence));
        Assert.Equal(1, log.UnpersistedChanges);
    }

    [Fact]
    public void ContinuingATail_NotEndingAtTheLastSequence_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => new ReplicationLog(1, Changes(1, 3), 4, new ReplicationOptions()));
        Assert.Throws<ArgumentException>(() => new ReplicationLog(3, [], 4, new ReplicationOptions()));
        Assert.Equal(5, new ReplicationLog(5, [], 4, new ReplicationOptions()).FirstSequence);
    }

    private static LogEntry[] Changes(long from, int count, int valueBytes = 8) =>
        Enumerable.Range(0, count).Select(i => Change(from + i, valueBytes)).ToArray();

    private static LogEntry Change(long sequence, int valueBytes = 8) =>
        new(new ItemAddress("c", string.Empty, $"item-{sequence}"), sequence, 0, new byte[valueBytes]);
}
