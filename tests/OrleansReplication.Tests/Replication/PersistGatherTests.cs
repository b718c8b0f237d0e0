using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>The write-behind persister gathers Applied writes into few store commits, and never makes a Durable write wait for the gather.</summary>
public sealed class PersistGatherTests : ReplicationHarness
{
    // Long enough that every Applied write below lands within one gather even on a loaded machine.
    private static readonly ReplicationOptions Gathering = new() { PersistGatherDelay = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task Applied_InSyncStandby_ManyWritesPersistInFewCommits()
    {
        var partition = await StartPartitionAsync(Gathering);
        await AddStandbyAsync(partition, "standby-1");
        var before = Store.Commits;

        var writes = Enumerable.Range(0, 200).Select(i => WriteAsync(partition, SafetyLevel.Applied, Set($"k{i % 50}", $"{i}"))).ToList();
        await Task.WhenAll(writes).WaitAsync(Deadline);
        await WaitDurableAsync(partition);

        // One commit per write would be 200; a gather takes whatever arrived within it.
        var commits = Store.Commits - before;
        Assert.InRange(commits, 1, 20);
        Assert.Equal(50, (await Sqlite.LoadPartitionAsync(partition.Id, default)).Items.Count);
    }

    [Fact]
    public async Task Durable_DuringAGather_FlushesWithoutWaitingForIt()
    {
        var gather = TimeSpan.FromSeconds(10);
        var partition = await StartPartitionAsync(new ReplicationOptions { PersistGatherDelay = gather });
        await AddStandbyAsync(partition, "standby-1");
        Store.Close();
        await WriteAsync(partition, SafetyLevel.Applied, Set("a", "1")).WaitAsync(Deadline);

        // The Applied write is gathering (its flush is not at the store yet); a Durable write ends the gather.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var durable = WriteAsync(partition, SafetyLevel.Durable, Set("b", "2"));
        await Wait.UntilAsync(() => Store.Waiting == 1, Deadline, "the Durable write's flush to reach the store");
        Assert.True(started.Elapsed < gather, $"the Durable write's flush waited {started.Elapsed} for the gather");
        Store.Open();
        var result = (await durable.WaitAsync(Deadline))[0];
        Assert.True(partition.DurableSequence >= result.Version);
    }

    [Fact]
    public void Validate_GatherDelayOutOfRange_NamesTheSetting()
    {
        var validator = new ReplicationOptionsValidator();
        foreach (var delay in new[] { TimeSpan.FromMilliseconds(-1), TimeSpan.FromSeconds(11) })
        {
            var result = validator.Validate(null, new ReplicationOptions { PersistGatherDelay = delay });
            Assert.True(result.Failed);
            Assert.Contains("Replication:PersistGatherDelay", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_DurableWriteTimeoutNotPositive_NamesTheSetting_InfiniteIsValid()
    {
        var validator = new ReplicationOptionsValidator();
        foreach (var timeout in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(-2) })
        {
            var result = validator.Validate(null, new ReplicationOptions { DurableWriteTimeout = timeout });
            Assert.True(result.Failed);
            Assert.Contains("Replication:DurableWriteTimeout", result.FailureMessage, StringComparison.Ordinal);
        }

        Assert.True(validator.Validate(null, new ReplicationOptions { DurableWriteTimeout = Timeout.InfiniteTimeSpan }).Succeeded);
    }
}
