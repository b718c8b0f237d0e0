using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Partitions;

/// <summary>How a silo's partitions follow the partition map (<see cref="PartitionManager.ApplyRolesAsync"/>).</summary>
public sealed class PartitionRolesTests : IAsyncLifetime
{
    private const int PartitionCount = 2;
    private static readonly SiloIncarnation Self = new("self", 1);
    private static readonly SiloIncarnation Other = new("other", 1);

    private readonly string _dir = Directory.CreateTempSubdirectory("or-roles-").FullName;
    private SqliteStateStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir));
        await _store.InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ApplyRolesAsync_MapOlderThanOneFollowed_DoesNotRestartTheHandedOffPartition()
    {
        var manager = new PartitionManager(_store, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        SiloRecord[] silos = [Record(Self, "self"), Record(Other, "other")];

        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, silos, _ => null, default);
        Assert.True(manager.Leads(0));
        Assert.Equal((PartitionStatus.Serving, 2L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));

        // Handed off at epoch 3, then a map read before that handoff arrives late.
        await manager.ApplyRolesAsync(Map(epoch: 3, primary: Other), Self, silos, _ => null, default);
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, silos, _ => null, default);

        Assert.False(manager.Leads(0));
        Assert.Equal((PartitionStatus.Stopped, 2L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));

        // A newer map that gives it back starts it again, at its own epoch.
        await manager.ApplyRolesAsync(Map(epoch: 4, primary: Self), Self, silos, _ => null, default);
        Assert.True(manager.Leads(0));
        Assert.Equal((PartitionStatus.Serving, 4L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));
        await manager.StopAsync();
    }

    private static PartitionMap Map(long epoch, SiloIncarnation primary) => PartitionMap.From(PartitionCount,
    [
        new PartitionAssignment(0, epoch, epoch, primary, []),
        new PartitionAssignment(1, 1, 1, Self, []),
    ]);

    private static SiloRecord Record(SiloIncarnation address, string name) =>
        new(address, SiloStatus.Active, $"{name}:11111", $"{name}:30000", $"http://{name}:8080", string.Empty, name, string.Empty, 0, 0, 0);
}
