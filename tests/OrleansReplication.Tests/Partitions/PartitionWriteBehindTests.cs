using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.Partitions;

public sealed class PartitionWriteBehindTests : IAsyncLifetime
{
    private const int PartitionCount = 8;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _dir = Directory.CreateTempSubdirectory("or-wb-").FullName;
    private SqliteStateStore _sqlite = null!;

    public async Task InitializeAsync()
    {
        _sqlite = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir));
        await _sqlite.InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        await _sqlite.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Stop_LocalWritesNotYetPersisted_FlushesEverythingAndANewManagerSeesEveryAcknowledgedWrite()
    {
        var gated = new GatedStateStore(_sqlite);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        gated.Close();

        var acknowledged = new List<(ItemKey Key, WriteResult Result, string Json)>();
        for (var i = 0; i < 1000; i++)
        {
            var key = new ItemKey($"item-{i % 700}");
            var json = $"{{\"n\":{i}}}";
            var result = (await manager.ApplyAsync("c", [new ItemWriteData(key, Encoding.UTF8.GetBytes(json), Expect.Any)], SafetyLevel.Local, default).WaitAsync(Deadline))[0];
            acknowledged.Add((key, result, json));
        }

        // The store has none of it: every flush waits at the closed gate.
        Assert.All(manager.Partitions, p => Assert.Equal(0, p.DurableSequence));

        var stopping = manager.StopAsync();
        Assert.False(stopping.IsCompleted, "the stop returned before the store took the applied writes");
        gated.Open();
        await stopping.WaitAsync(Deadline);

        var restarted = new PartitionManager(_sqlite, NullLoggerFactory.Instance);
        await restarted.StartAsync(PartitionCount, default);
        try
        {
            foreach (var last in acknowledged.GroupBy(a => a.Key).Select(g => g.Last()))
            {
                var item = restarted.Get("c", last.Key);
                Assert.NotNull(item);
                Assert.Equal(last.Result.Version, item.Version);
                Assert.Equal(last.Json, Encoding.UTF8.GetString(item.Json));
            }

            Assert.Equal(700, restarted.Partitions.Sum(p => p.Items.Count));
        }
        finally
        {
            await restarted.StopAsync();
        }
    }

    [Fact]
    public async Task Commit_LandsButItsAnswerIsLost_TheRetryFindsItThere_ThePartitionKeepsServing()
    {
        // The store crashed (or the connection broke) after the COMMIT reached it: the persister
        // retried the same changes, found its own earlier commit in the way, and stopped serving
        // the partition as if another writer had changed the store (nemesis seed 4014).
        var gated = new GatedStateStore(_sqlite);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        try
        {
            gated.LoseAnswers(1);
            var first = (await manager.ApplyAsync("c", [Set("a", "1")], SafetyLevel.Default, default).WaitAsync(Deadline))[0];
            var partition = manager.Partitions[manager.GetPartitionId("c", new ItemKey("a"))];
            Assert.Equal((PartitionStatus.Serving, false), (partition.Status, partition.StoreDiverged));
            Assert.True(partition.DurableSequence >= first.Version);

            gated.LoseAnswers(1);
            var second = (await manager.ApplyAsync("c", [Set("a", "2"), Set("b", "3")], SafetyLevel.Durable, default).WaitAsync(Deadline))[0];
            Assert.All(manager.Partitions, p => Assert.Equal(PartitionStatus.Serving, p.Status));
            Assert.True(second.Version > first.Version);
        }
        finally
        {
            await manager.StopAsync();
        }

        var restarted = new PartitionManager(_sqlite, NullLoggerFactory.Instance);
        await restarted.StartAsync(PartitionCount, default);
        Assert.Equal("2", Encoding.UTF8.GetString(restarted.Get("c", new ItemKey("a"))!.Json));
        Assert.Equal("3", Encoding.UTF8.GetString(restarted.Get("c", new ItemKey("b"))!.Json));
        await restarted.StopAsync();
    }

    [Fact]
    public async Task Apply_DefaultSafetyOnOneSilo_AcknowledgedOnlyOncePersisted()
    {
        var gated = new GatedStateStore(_sqlite);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        try
        {
            gated.Close();
            var write = manager.ApplyAsync("c", [new ItemWriteData(new ItemKey("a"), Encoding.UTF8.GetBytes("1"), Expect.Any)], SafetyLevel.Default, default);
            await Wait.UntilAsync(() => gated.Waiting == 1, Deadline, "the write's flush to wait at the store");
            Assert.False(write.IsCompleted, "a default-safety write was acknowledged on a single silo before the store had it");

            gated.Open();
            var result = (await write.WaitAsync(Deadline))[0];
            var partition = manager.Partitions[manager.GetPartitionId("c", new ItemKey("a"))];
            Assert.True(partition.DurableSequence >= result.Version);
        }
        finally
        {
            gated.Open();
            await manager.StopAsync();
        }
    }

    [Fact]
    public async Task WriteBehind_LeavesCommitsUnsynced_ADurableWriteIsAnsweredOnlyAfterADiskCommitCoveringIt()
    {
        var gated = new GatedStateStore(_sqlite);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        try
        {
            var local = (await manager.ApplyAsync("c", [Set("a", "1")], SafetyLevel.Local, default).WaitAsync(Deadline))[0];
            var partition = manager.Partitions[manager.GetPartitionId("c", new ItemKey("a"))];
            await Wait.UntilAsync(() => partition.DurableSequence >= local.Version, Deadline, "the local write to reach the store");
            Assert.All(gated.Persisted, p => Assert.Equal(CommitSync.Process, p.Sync));

            var durable = (await manager.ApplyAsync("c", [Set("a", "2")], SafetyLevel.Durable, default).WaitAsync(Deadline))[0];
            Assert.Contains(gated.Persisted, p => p.Partition == partition.Id && p.LastSequence >= durable.Version && p.Sync == CommitSync.Disk);
        }
        finally
        {
            await manager.StopAsync();
        }
    }

    [Fact]
    public async Task DurableRetry_OfAWritePersistedUnsynced_IsAnsweredAfterAStoreSync_NotAppliedAgain()
    {
        var gated = new GatedStateStore(_sqlite);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        try
        {
            var key = new RequestKey("client-1", 1);
            var first = (await manager.ApplyAsync("c", [Set("b", "1")], SafetyLevel.Local, key, default).WaitAsync(Deadline))[0];
            var partition = manager.Partitions[manager.GetPartitionId("c", new ItemKey("b"))];
            await Wait.UntilAsync(() => partition.DurableSequence >= first.Version, Deadline, "the write to reach the store");
            Assert.DoesNotContain(gated.Persisted, p => p.Sync == CommitSync.Disk);

            // The same request again (a retry) at Durable: nothing new to persist, but the store
            // holds it only in the OS's cache, so it is synced before the answer.
            var retried = (await manager.ApplyAsync("c", [Set("b", "1")], SafetyLevel.Durable, key, default).WaitAsync(Deadline))[0];
            Assert.Equal(first.Version, retried.Version);
            Assert.Contains(gated.Persisted, p => p.Partition == -1);
            Assert.Equal(first.Version, partition.LastSequence);
        }
        finally
        {
            await manager.StopAsync();
        }
    }

    private static ItemWriteData Set(string id, string json) => new(new ItemKey(id), Encoding.UTF8.GetBytes(json), Expect.Any);
}
