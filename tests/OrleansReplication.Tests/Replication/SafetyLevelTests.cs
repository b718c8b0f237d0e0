using System.Text;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

public sealed class SafetyLevelTests : ReplicationHarness
{
    [Fact]
    public async Task Local_StoreBlocked_AcknowledgedBeforePersistedThenDurableCatchesUp()
    {
        var partition = await StartPartitionAsync();
        Store.Close();

        var result = (await WriteAsync(partition, SafetyLevel.Local, Set("a", "1")).WaitAsync(Deadline))[0];

        // The store cannot have it: every commit waits at the closed gate.
        Assert.True(partition.DurableSequence < result.Version, $"durable {partition.DurableSequence} already covers version {result.Version}");
        Assert.Empty((await Sqlite.LoadPartitionAsync(partition.Id, default)).Items);

        Store.Open();
        await WaitDurableAsync(partition);
        var stored = Assert.Single((await Sqlite.LoadPartitionAsync(partition.Id, default)).Items);
        Assert.Equal(result.Version, stored.Version);
    }

    [Theory]
    [InlineData(SafetyLevel.Received)]
    [InlineData(SafetyLevel.Applied)]
    [InlineData(SafetyLevel.Default)]
    public async Task ReceivedOrApplied_NoStandby_WaitForDurable(SafetyLevel safety)
    {
        var partition = await StartPartitionAsync();
        Store.Close();

        var write = WriteAsync(partition, safety, Set("a", "1"));
        await Wait.UntilAsync(() => partition.LastSequence == 1 && Store.Waiting == 1, Deadline, "the write to be applied and its flush to wait at the store");

        // Only the store can make the write survive this silo's crash, and it does not have it yet.
        Assert.False(write.IsCompleted, "the write was acknowledged before any standby or the store had it");

        Store.Open();
        var result = (await write.WaitAsync(Deadline))[0];
        Assert.True(partition.DurableSequence >= result.Version);
    }

    [Fact]
    public async Task Applied_InSyncStandby_StandbyHasTheValueWhenTheWriteCompletes()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");
        Store.Close(); // the store cannot be what acknowledges these writes

        for (var i = 0; i < 50; i++)
        {
            var result = (await WriteAsync(partition, SafetyLevel.Applied, Set($"k{i % 7}", $"{i}")).WaitAsync(Deadline))[0];

            var copy = link.Standby.Items.Get(Address($"k{i % 7}"));
            Assert.NotNull(copy);
            Assert.Equal(result.Version, copy.Version);
            Assert.Equal($"{i}", Encoding.UTF8.GetString(copy.Json));
        }

        Assert.Equal(0, partition.DurableSequence);
    }

    [Fact]
    public async Task Received_StandbyStalled_AcknowledgedWhenQueuedWhileAppliedWaits()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1", new ReplicationOptions { MaxAckDelay = Timeout.InfiniteTimeSpan });
        link.Pause();

        var received = (await WriteAsync(partition, SafetyLevel.Received, Set("a", "1")).WaitAsync(Deadline))[0];
        var applied = WriteAsync(partition, SafetyLevel.Applied, Set("b", "1"));
        await Wait.UntilAsync(() => link.ReceivedSequence >= 2, Deadline, "the second write to be queued on the standby");

        Assert.True(link.InSync);
        Assert.True(link.ReceivedSequence >= received.Version);
        Assert.Equal(0, link.Standby.AppliedSequence);
        Assert.False(applied.IsCompleted, "an Applied write completed while its only in-sync standby was stalled");

        link.Resume();
        var result = (await applied.WaitAsync(Deadline))[0];
        Assert.Equal(result.Version, link.Standby.Items.Get(Address("b"))!.Version);
    }

    [Fact]
    public async Task Durable_Acknowledged_TheStoreHasIt()
    {
        var partition = await StartPartitionAsync();
        await AddStandbyAsync(partition, "standby-1");

        for (var i = 0; i < 20; i++)
        {
            var result = (await WriteAsync(partition, SafetyLevel.Durable, Set($"d{i}", $"{i}")).WaitAsync(Deadline))[0];

            var stored = (await Sqlite.LoadPartitionAsync(partition.Id, default)).Items.Single(s => s.Id == $"d{i}");
            Assert.Equal(result.Version, stored.Version);
            Assert.Equal($"{i}", Encoding.UTF8.GetString(stored.Value));
        }
    }

    [Fact]
    public async Task Durable_StoreFailingNoDeadline_StaysPendingAndCompletesOnceTheStoreRecovers()
    {
        var partition = await StartPartitionAsync(new ReplicationOptions { PersistRetryInitialDelay = TimeSpan.FromMilliseconds(5), PersistRetryMaxDelay = TimeSpan.FromMilliseconds(20), DurableWriteTimeout = Timeout.InfiniteTimeSpan });
        Store.Failing = true;

        var write = WriteAsync(partition, SafetyLevel.Durable, Set("a", "1"));
        await Wait.UntilAsync(() => Store.Failures >= 3, Deadline, "the persister to retry the failing store");
        Assert.False(write.IsCompleted, "a Durable write completed while the store failed every commit");

        Store.Failing = false;
        var result = (await write.WaitAsync(Deadline))[0];
        Assert.Equal(result.Version, Assert.Single((await Sqlite.LoadPartitionAsync(partition.Id, default)).Items).Version);
    }

    [Fact]
    public async Task Durable_LongStoreOutage_ResumesWithinTheRetryCapOnceTheStoreIsBack_WarnsOnceAndLogsTheRecovery()
    {
        using var logs = new RecordingLoggerProvider(LogLevel.Information);
        var defaults = new ReplicationOptions { DurableWriteTimeout = Timeout.InfiniteTimeSpan };
        var partition = await StartPartitionAsync(defaults, logger: logs.CreateLogger("partition"));
        Store.Failing = true;

        var write = WriteAsync(partition, SafetyLevel.Durable, Set("a", "1"));

        // Six failures: the doubling wait (100, 200, 400, 800 ms, ...) has reached its cap, which
        // is what bounds how long writes wait for a store that is back (before: 3.2 s, then 5 s).
        await Wait.UntilAsync(() => Store.Failures >= 6, Deadline, "the persister to retry the failing store six times");
        Store.Failing = false;
        var back = System.Diagnostics.Stopwatch.StartNew();
        await write.WaitAsync(Deadline);

        // The default cap (1 s) and slack for a loaded machine; the old 5 s cap took 3.2 s here.
        Assert.True(back.Elapsed < TimeSpan.FromSeconds(2.5), $"the Durable write took {back.Elapsed.TotalMilliseconds:0} ms after the store was back (retry cap {defaults.PersistRetryMaxDelay.TotalMilliseconds:0} ms)");
        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("persisting changes 1..1 failed (1 attempts in a row", warning.Message, StringComparison.Ordinal);
        var recovered = Assert.Single(logs.Entries, e => e.Message.Contains("takes changes again", StringComparison.Ordinal));
        Assert.Contains($"after {Store.Failures} failed attempts", recovered.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Durable_StoreFailing_FailsAfterTheDeadlineWithItsId_ThenARetryWithTheIdResolvesItOnce()
    {
        var partition = await StartPartitionAsync(new ReplicationOptions
        {
            PersistRetryInitialDelay = TimeSpan.FromMilliseconds(5),
            PersistRetryMaxDelay = TimeSpan.FromMilliseconds(20),
            DurableWriteTimeout = TimeSpan.FromMilliseconds(200),
        });
        var key = new RequestKey("client-d", 7);
        Store.Failing = true;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => partition.CommitAsync(new CommitRequest(Component, [Set("a", "1")], SafetyLevel.Durable, key)).WaitAsync(Deadline));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(10));
        Assert.Equal(new IdempotencyId("client-d", 7), error.IdempotencyId);
        Assert.Contains("idempotency id", error.Message, StringComparison.Ordinal);
        Assert.True(error.RetryAfter > TimeSpan.Zero);

        // Applied in memory meanwhile; the retry while the store still fails fails the same way, applying nothing more.
        var version = partition.Items.Get(Address("a"))!.Version;
        await Assert.ThrowsAsync<StoreUnavailableException>(() => partition.CommitAsync(new CommitRequest(Component, [Set("a", "1")], SafetyLevel.Durable, key)).WaitAsync(Deadline));
        Assert.Equal(version, partition.Items.Get(Address("a"))!.Version);

        Store.Failing = false;
        var resolved = (await partition.CommitAsync(new CommitRequest(Component, [Set("a", "1")], SafetyLevel.Durable, key)).WaitAsync(Deadline))[0];
        Assert.Equal(version, resolved.Version);
        Assert.Equal(version, Assert.Single((await Sqlite.LoadPartitionAsync(partition.Id, default)).Items).Version);
    }

    [Fact]
    public async Task Conflict_WithStandby_FailsOnlyItsRequestAndNothingOfItIsReplicatedOrPersisted()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");
        var a = (await WriteAsync(partition, SafetyLevel.Applied, Set("a", "1")).WaitAsync(Deadline))[0];

        // Queued together, so the loop likely takes them in one batch; either way only the conflicting request fails.
        var before = WriteAsync(partition, SafetyLevel.Applied, Set("x", "1"));
        var conflicting = WriteAsync(partition, SafetyLevel.Applied, Set("b", "1"), Set("a", "2", Expect.Version(a.Version + 100)));
        var after = WriteAsync(partition, SafetyLevel.Applied, Set("y", "1"));

        await Assert.ThrowsAsync<VersionConflictException>(() => conflicting.WaitAsync(Deadline));
        var x = (await before.WaitAsync(Deadline))[0];
        var y = (await after.WaitAsync(Deadline))[0];

        Assert.Equal(a.Version + 1, x.Version);
        Assert.Equal(x.Version + 1, y.Version); // the conflict consumed no sequence number
        Assert.Null(partition.Items.Get(Address("b")));
        Assert.Null(link.Standby.Items.Get(Address("b")));
        Assert.Equal(a.Version, link.Standby.Items.Get(Address("a"))!.Version);
        await AssertStandbyMatchesAsync(partition, link.Standby);
        await WaitDurableAsync(partition);
        Assert.DoesNotContain((await Sqlite.LoadPartitionAsync(partition.Id, default)).Items, i => i.Id == "b");
    }

    [Fact]
    public async Task Persister_StoreHoldsANewerEpoch_FencesThePartitionAndFailsWaitingWrites()
    {
        var deposed = await StartPartitionAsync();
        await WriteAsync(deposed, SafetyLevel.Durable, Set("a", "1")).WaitAsync(Deadline);

        // Another primary takes the partition (a higher epoch) and writes.
        var successor = await StartPartitionAsync();
        Assert.True(successor.Epoch > deposed.Epoch);
        await WriteAsync(successor, SafetyLevel.Durable, Set("a", "2")).WaitAsync(Deadline);

        var error = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => WriteAsync(deposed, SafetyLevel.Applied, Set("a", "3")).WaitAsync(Deadline));

        Assert.Contains("no longer led", error.Message, StringComparison.Ordinal);
        Assert.Equal(PartitionStatus.Fenced, deposed.Status);
        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => WriteAsync(deposed, SafetyLevel.Local, Set("a", "4")).WaitAsync(Deadline));
        Assert.Equal("2", Encoding.UTF8.GetString((await Sqlite.LoadPartitionAsync(0, default)).Items.Single().Value));
    }
}
