using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// With no in-sync standby, writes at Applied wait for the store behind every unpersisted change, so
/// the backlog is kept to <see cref="ReplicationOptions.MaxUnpersistedChangesWithoutStandby"/>; with
/// an in-sync standby the larger <see cref="ReplicationOptions.MaxUnpersistedChanges"/> applies.
/// </summary>
public sealed class UnpersistedBacklogTests : ReplicationHarness
{
    private const int ShortBacklog = 10;

    private static readonly ReplicationOptions Bounded = new() { MaxUnpersistedChangesWithoutStandby = ShortBacklog, MaxUnpersistedChanges = 1000 };

    [Fact]
    public async Task Local_NoStandby_WaitsForTheStoreBeyondTheShortBacklog()
    {
        var partition = await StartPartitionAsync(Bounded);
        Store.Close();
        for (var i = 0; i < ShortBacklog; i++)
        {
            await WriteAsync(partition, SafetyLevel.Local, Set($"k{i}", $"{i}")).WaitAsync(Deadline);
        }

        await Wait.UntilAsync(() => Store.Waiting == 1, Deadline, "the persister's flush to reach the closed store");
        var held = WriteAsync(partition, SafetyLevel.Local, Set("over", "1"));

        // A negative check: the write must stay held while the store is closed; a loaded machine can
        // only make it pass more easily, never fail, and without the bound it completes at once.
        await Task.WhenAny(held, Task.Delay(TimeSpan.FromSeconds(1)));
        Assert.False(held.IsCompleted, "a Local write beyond the short backlog was taken while the store was closed and no standby was in sync");

        Store.Open();
        var result = (await held.WaitAsync(Deadline))[0];
        var applied = (await WriteAsync(partition, SafetyLevel.Applied, Set("after", "2")).WaitAsync(Deadline))[0];
        Assert.True(applied.Version > result.Version);
        Assert.True(partition.DurableSequence >= applied.Version);
    }

    [Fact]
    public async Task Local_InSyncStandby_TakesMoreThanTheShortBacklogWhileTheStoreIsClosed()
    {
        var partition = await StartPartitionAsync(Bounded);
        await AddStandbyAsync(partition, "standby-1");
        Store.Close();
        for (var i = 0; i < ShortBacklog * 5; i++)
        {
            await WriteAsync(partition, SafetyLevel.Local, Set($"k{i}", $"{i}")).WaitAsync(Deadline);
        }

        Assert.True(partition.LastSequence - partition.DurableSequence >= ShortBacklog * 5);
        Store.Open();
        await WaitDurableAsync(partition);
        Assert.Equal(ShortBacklog * 5, (await Sqlite.LoadPartitionAsync(partition.Id, default)).Items.Count);
    }

    [Fact]
    public void Validate_ShortBacklogNotPositive_NamesTheSetting()
    {
        var result = new ReplicationOptionsValidator().Validate(null, new ReplicationOptions { MaxUnpersistedChangesWithoutStandby = 0 });
        Assert.True(result.Failed);
        Assert.Contains("MaxUnpersistedChangesWithoutStandby", result.FailureMessage, StringComparison.Ordinal);
    }
}
