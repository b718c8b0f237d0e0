using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// Exactly-once writes on one partition: a request with an idempotency id takes effect once, its
/// retries get the first attempt's results, on the primary, in flight, after a promotion, after a
/// restart from the store and on a standby that joined by snapshot.
/// </summary>
public sealed class IdempotentWriteTests : ReplicationHarness
{
    private static readonly RequestKey First = new("client-1", 1);

    [Fact]
    public async Task SameIdTwice_AppliesOnce_ReturnsTheSameResults()
    {
        var partition = await StartPartitionAsync();

        var first = await SendAsync(partition, First, SafetyLevel.Applied, Set("a", "1"), Set("b", "2"));
        var sequence = partition.LastSequence;
        var retry = await SendAsync(partition, First, SafetyLevel.Applied, Set("a", "1"), Set("b", "2"));

        Assert.Equal(first, retry);
        Assert.True(first.All(r => r.Created && r.Changed));
        Assert.Equal(sequence, partition.LastSequence);
        Assert.Equal(first[0].Version, partition.Items.Get(Address("a"))!.Version);

        // Another sequence of the same client is another request.
        var next = await SendAsync(partition, First with { Sequence = 2 }, SafetyLevel.Applied, Set("a", "1"));
        Assert.Equal(sequence + 1, next[0].Version);
    }

    [Fact]
    public async Task RetryWhileFirstAttemptWaitsForDurable_AppliesOnce_BothAnsweredWhenDurable()
    {
        var partition = await StartPartitionAsync();
        Store.Close();

        var first = SendAsync(partition, First, SafetyLevel.Durable, Set("a", "1"));
        var retry = SendAsync(partition, First, SafetyLevel.Durable, Set("a", "1"));
        await Wait.UntilAsync(() => partition.PendingWrites.Durable == 2, Deadline, "both attempts to wait for Durable");

        Assert.Equal(1, partition.LastSequence);
        Assert.False(first.IsCompleted || retry.IsCompleted, "an attempt was answered before its write was durable");
        Store.Open();
        Assert.Equal(await first.WaitAsync(Deadline), await retry.WaitAsync(Deadline));
        Assert.Equal(1, partition.LastSequence);
    }

    [Fact]
    public async Task SameIdForOtherItems_Refused_NothingApplied()
    {
        var partition = await StartPartitionAsync();
        await SendAsync(partition, First, SafetyLevel.Applied, Set("a", "1"));

        var error = await Assert.ThrowsAsync<InvalidRequestException>(() => SendAsync(partition, First, SafetyLevel.Applied, Set("b", "1")));

        Assert.Contains("already used for another request", error.Message, StringComparison.Ordinal);
        Assert.Null(partition.Items.Get(Address("b")));
        Assert.Equal(1, partition.LastSequence);
    }

    [Fact]
    public async Task RequestThatChangedNothing_RetryReplaysItsResult()
    {
        var partition = await StartPartitionAsync();

        var first = await SendAsync(partition, First, SafetyLevel.Applied, Remove("absent"));
        await SendAsync(partition, new RequestKey("other", 1), SafetyLevel.Applied, Set("absent", "1"));
        var retry = await SendAsync(partition, First, SafetyLevel.Applied, Remove("absent"));

        Assert.Equal(first, retry);
        Assert.False(retry[0].Changed);
        Assert.NotNull(partition.Items.Get(Address("absent")));
    }

    [Fact]
    public async Task PrimaryDies_RetryOnPromotedStandby_ReturnsOriginalResultWithoutNewVersion()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        Store.Close(); // nothing reaches the store: the standby's copy alone must know the request

        var first = await SendAsync(primary, First, SafetyLevel.Applied, Set("a", "1"), Set("b", "2"));
        await SendAsync(primary, new RequestKey("client-2", 7), SafetyLevel.Applied, Set("a", "3"));
        Assert.Equal(2, link.Standby.Requests.Count);

        // The primary is "dead" (never stopped); its standby takes over at the next epoch.
        var promoted = await PromoteAsync(link.Standby, primary.Epoch + 1);
        try
        {
            var last = promoted.LastSequence;
            var retry = await SendAsync(promoted, First, SafetyLevel.Applied, Set("a", "1"), Set("b", "2"));

            Assert.Equal(first, retry);
            Assert.Equal(last, promoted.LastSequence);
            Assert.Equal(3, promoted.Items.Get(Address("a"))!.Version);

            // The promotion wrote the copy's requests to the store with the changes it lacked.
            var stored = await Sqlite.LoadPartitionAsync(0, default);
            Assert.Equal([first[0].Version + 1, 3], RecordedRequests.FromStored(stored.Requests).Select(r => r.LastSequence));
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task Restart_FromStore_RetryReturnsOriginalResult()
    {
        var partition = await StartPartitionAsync();
        var first = await SendAsync(partition, First, SafetyLevel.Durable, Set("a", "1"), Remove("a"), Set("b", "2"));
        await partition.StopAsync().WaitAsync(Deadline);

        var restarted = new Partition(0, Store, NullLogger.Instance);
        await restarted.LoadAndStartAsync(default);
        try
        {
            Assert.Equal(1, restarted.RememberedRequests);
            var retry = await SendAsync(restarted, First, SafetyLevel.Durable, Set("a", "1"), Remove("a"), Set("b", "2"));

            Assert.Equal(first, retry);
            Assert.Equal(3, restarted.LastSequence);
            Assert.Null(restarted.Items.Get(Address("a")));
        }
        finally
        {
            await restarted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task LateStandbyCaughtUpBySnapshot_RemembersTheRequests_AndAnswersAfterPromotion()
    {
        var options = new ReplicationOptions { LogRetainedChanges = 4 };
        var primary = await StartPartitionAsync(options);
        var results = new List<IReadOnlyList<WriteResult>>();
        for (var i = 0; i < 20; i++)
        {
            results.Add(await SendAsync(primary, First with { Sequence = (ulong)i }, SafetyLevel.Durable, Set("k" + i, $"{i}")));
        }

        var link = await AddStandbyAsync(primary, "late", options);

        Assert.True(link.SnapshotsSent > 0, "the late standby was caught up from the log, not by a snapshot");
        Assert.Equal(20, link.Standby.Requests.Count);
        var promoted = await PromoteAsync(link.Standby, primary.Epoch + 1);
        try
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.Equal(results[i], await SendAsync(promoted, First with { Sequence = (ulong)i }, SafetyLevel.Applied, Set("k" + i, $"{i}")));
            }

            Assert.Equal(20, promoted.LastSequence);
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task RetentionByCount_OldestForgotten_OnPrimaryStandbyAndInTheStore()
    {
        var options = new ReplicationOptions { RequestsRetained = 3 };
        var primary = await StartPartitionAsync(options);
        var link = await AddStandbyAsync(primary, "standby", options);
        for (var i = 0; i < 6; i++)
        {
            await SendAsync(primary, First with { Sequence = (ulong)i }, SafetyLevel.Durable, Set("k", $"{i}"));
        }

        // One more durable write: its flush carries the eviction of the oldest rows.
        await SendAsync(primary, new RequestKey("client-2", 1), SafetyLevel.Durable, Set("other", "1"));

        Assert.Equal(3, primary.RememberedRequests);
        await Wait.UntilAsync(() => link.Standby.Requests.Count == 3, Deadline, $"the standby to forget the oldest requests too (it remembers {string.Join(", ", link.Standby.Requests.Select(r => r.Key))})");
        var stored = RecordedRequests.FromStored((await Sqlite.LoadPartitionAsync(0, default)).Requests).ToList();
        Assert.InRange(stored.Count, 3, 4); // the last flush may not have seen the newest eviction yet

        // A retry of a forgotten request is a new request: it applies again.
        var again = await SendAsync(primary, First with { Sequence = 0 }, SafetyLevel.Applied, Set("k", "0"));
        Assert.Equal(primary.LastSequence, again[0].Version);
        Assert.Equal(8, primary.LastSequence);
    }

    [Fact]
    public async Task RetentionByAge_ExpiredRequestForgotten()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var options = new ReplicationOptions { RequestRetention = TimeSpan.FromMinutes(1) };
        var partition = new Partition(1, Store, NullLogger.Instance, options, time);
        await partition.LoadAndStartAsync(default);
        try
        {
            await SendAsync(partition, First, SafetyLevel.Applied, Set("a", "1"));
            time.Advance(TimeSpan.FromSeconds(59));
            Assert.Equal(1, (await SendAsync(partition, First, SafetyLevel.Applied, Set("a", "1")))[0].Version);

            time.Advance(TimeSpan.FromSeconds(2));
            var late = await SendAsync(partition, First, SafetyLevel.Applied, Set("a", "1"));

            Assert.Equal(2, late[0].Version);
        }
        finally
        {
            await partition.StopAsync().WaitAsync(Deadline);
        }
    }

    [Theory]
    [InlineData(0, 300)]
    [InlineData(-1, 300)]
    [InlineData(10, 0)]
    [InlineData(10, 86_400 * 8)]
    public void Options_BadRetention_RefusedNamingTheSetting(int retained, int retentionSeconds)
    {
        var options = new ReplicationOptions { RequestsRetained = retained, RequestRetention = TimeSpan.FromSeconds(retentionSeconds) };

        var result = new ReplicationOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(retained <= 0 ? "RequestsRetained" : "RequestRetention", result.FailureMessage, StringComparison.Ordinal);
    }

    private static Task<IReadOnlyList<WriteResult>> SendAsync(Partition partition, RequestKey key, SafetyLevel safety, params ItemWriteData[] writes) =>
        partition.CommitAsync(new CommitRequest(Component, writes, safety, key)).WaitAsync(Deadline);

    private async Task<Partition> PromoteAsync(StandbyReplica standby, long epoch)
    {
        var copy = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        standby.Items.CopyTo(copy);
        var promoted = new Partition(0, Sqlite, NullLogger.Instance);
        await promoted.StartFromWarmCopyAsync(new WarmCopy(copy, standby.AppliedSequence, standby.Epoch, standby.Requests), epoch, default);
        return promoted;
    }

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}
