using Microsoft.Data.Sqlite;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Storage;

/// <summary>The store contract on SQLite: a temp database file per test, deleted (with its WAL files) at the end.</summary>
public sealed class SqliteStateStoreTests : StateStoreContractTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"or-sqlite-{Guid.NewGuid():N}.db");

    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = _path, Pooling = true }.ConnectionString;

    private protected override Task<IStateStore> CreateStoreAsync() => Task.FromResult<IStateStore>(new SqliteStateStore(ConnectionString));

    [Fact]
    public async Task CommitAsync_FlushesQueuedBehindACommit_ShareOneTransaction()
    {
        await using var store = new SqliteStateStore(ConnectionString);
        await store.InitializeAsync(CancellationToken.None);

        // Another process holds the file's write lock: the first flush waits in SQLite's busy
        // handler, and every flush that arrives meanwhile queues behind it.
        var locker = new SqliteConnection(ConnectionString);
        await locker.OpenAsync();
        var held = locker.BeginTransaction(deferred: false);
        var commits = Enumerable.Range(1, 64).Select(p => Task.Run(() => store.CommitAsync(
            p, 1, 1, [new StoredWrite("orders", string.Empty, $"item-{p}", 0, 1, [1, 2, 3])], RequestRecords.None, CancellationToken.None))).ToArray();
        await Wait.UntilAsync(() => store.QueuedCommits == 63, TimeSpan.FromSeconds(4), "63 flushes queued behind the first");
        held.Commit();
        await locker.DisposeAsync();
        await Task.WhenAll(commits);

        Assert.Equal(63, store.LargestGroup);
        for (var p = 1; p <= 64; p++)
        {
            var data = await store.LoadPartitionAsync(p, CancellationToken.None);
            Assert.Equal((1L, 1L, $"item-{p}"), (data.Epoch, data.LastSequence, Assert.Single(data.Items).Id));
        }
    }

    private protected override Task CleanupAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { string.Empty, "-wal", "-shm", "-journal" })
        {
            File.Delete(_path + suffix);
        }

        return Task.CompletedTask;
    }
}
