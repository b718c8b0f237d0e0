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
}
