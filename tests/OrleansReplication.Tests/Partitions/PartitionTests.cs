using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Partitions;

public sealed class PartitionTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("or-part-").FullName;
    private SqliteStateStore _store = null!;
    private PartitionManager _partitions = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir));
        await _store.InitializeAsync(default);
        _partitions = new PartitionManager(_store, NullLoggerFactory.Instance);
        await _partitions.StartAsync(8, default);
    }

    public async Task DisposeAsync()
    {
        await _partitions.StopAsync();
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Apply_RemoveOfMissingItem_ReportsUnchanged()
    {
        var results = await _partitions.ApplyAsync("c", [new ItemWriteData("x", null, Expect.Any)], SafetyLevel.Applied, default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(results[0].Changed);
    }
}
