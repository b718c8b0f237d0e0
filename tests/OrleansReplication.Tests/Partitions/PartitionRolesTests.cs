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
        var manager = await StartManagerAsync();

        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);
        Assert.True(manager.Leads(0));
        Assert.Equal((PartitionStatus.Serving, 2L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));

        // Handed off at epoch 3, then a map read before that handoff arrives late.
        await manager.ApplyRolesAsync(Map(epoch: 3, primary: Other), Self, Silos, (_, _) => null, default);
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);

        Assert.False(manager.Leads(0));
        Assert.Equal((PartitionStatus.Stopped, 2L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));

        // A newer map that gives it back starts it again, at its own epoch.
        await manager.ApplyRolesAsync(Map(epoch: 4, primary: Self), Self, Silos, (_, _) => null, default);
        Assert.True(manager.Leads(0));
        Assert.Equal((PartitionStatus.Serving, 4L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));
        await manager.StopAsync();
    }

    [Fact]
    public async Task ApplyRolesAsync_TakingAPartition_RemembersWhichSiloItCameFrom()
    {
        var manager = await StartManagerAsync();

        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Other), Self, Silos, (_, _) => null, default);
        Assert.Equal(default, manager.TakenFrom(0));
        Assert.Null(manager.TakenFrom(1).From); // led here from the first map on: no silo before it

        var before = System.Diagnostics.Stopwatch.GetTimestamp();
        await manager.ApplyRolesAsync(Map(epoch: 3, primary: Self), Self, Silos, (_, _) => null, default);

        var (from, at) = manager.TakenFrom(0);
        Assert.Equal(Other, from);
        Assert.True(at >= before, "the takeover time is when this silo took it");
        await manager.StopAsync();
    }

    [Fact]
    public async Task HandedOffPartition_RefusesReadsBeforeThisSiloFollowsTheNewMap()
    {
        var manager = await StartManagerAsync();
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);
        var key = KeyOfPartition0(manager);
        await manager.ApplyAsync("c", [new ItemWriteData(key, "1"u8.ToArray(), default)], SafetyLevel.Local, default);
        Assert.Single(manager.Get(0, "c", [key]));

        // The map's compare-and-swap moved it; the new primary may commit past this copy from now on.
        var sealedAt = await manager.Partitions[0].SealAsync();
        manager.Partitions[0].MarkHandedOff(sealedAt);

        Assert.True(manager.Leads(0), "this silo has not read the new map yet");
        var moved = Assert.Throws<PartitionMovedException>(() => manager.Get(0, "c", [key]));
        Assert.Equal(0, moved.Partition);
        Assert.Throws<PartitionMovedException>(() => manager.EnsureLeads(0));
        manager.Partitions[0].Unseal();
        await manager.StopAsync();
    }

    [Fact]
    public async Task ApplyRolesAsync_MapReadBeforeThisSiloHandedThePartitionOff_DoesNotRestartIt()
    {
        var manager = await StartManagerAsync();
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);
        var handedOff = manager.Partitions[0];
        handedOff.MarkHandedOff(await handedOff.SealAsync());

        // The map loop's round read the map just before the handoff's compare-and-swap landed.
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);

        Assert.Same(handedOff, manager.Partitions[0]);
        Assert.False(manager.Leads(0), "a partition handed off was led again from a map older than the move");
        await manager.StopAsync();
    }

    [Fact]
    public async Task ApplyRolesAsync_MapReadBeforeAnotherSiloFencedThePartition_DoesNotRestartItFromTheStore()
    {
        // Another silo took partition 0 at epoch 3 and wrote: the store holds epoch 3.
        var other = await StartManagerAsync();
        await other.ApplyRolesAsync(Map(epoch: 3, primary: Other), Other, Silos, (_, _) => null, default);
        var key = KeyOfPartition0(other);
        await other.ApplyAsync("c", [new ItemWriteData(key, "1"u8.ToArray(), default)], SafetyLevel.Durable, default);

        // This silo follows a map read before that: it names this silo at epoch 2.
        var manager = await StartManagerAsync();
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);

        Assert.False(manager.Leads(0), "the partition was served at epoch 2 from the store while epoch 3 leads it");
        Assert.NotEqual(PartitionStatus.Serving, manager.Partitions[0].Status);
        Assert.True(manager.Leads(1));
        await manager.StopAsync();
        await other.StopAsync();
    }

    [Fact]
    public async Task ApplyRolesAsync_StoreDivergedFromThePrimaryAtItsEpoch_ReloadsThePartitionFromTheStore()
    {
        var manager = await StartManagerAsync();
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);
        var key = KeyOfPartition0(manager);
        var first = (await manager.ApplyAsync("c", [new ItemWriteData(key, "1"u8.ToArray(), default)], SafetyLevel.Durable, default))[0];

        // Another writer changes the store at this primary's epoch; the primary's next commit finds it.
        await _store.CommitAsync(0, 2, first.Version + 1, [new StoredWrite("c", string.Empty, key.Id, first.Version, first.Version + 1, "\"foreign\""u8.ToArray())], RequestRecords.None, CommitSync.Disk, default);
        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => manager.ApplyAsync("c", [new ItemWriteData(key, "2"u8.ToArray(), default)], SafetyLevel.Durable, default));
        Assert.Equal((PartitionStatus.Fenced, true), (manager.Partitions[0].Status, manager.Partitions[0].StoreDiverged));

        // The map still names this silo at epoch 2 and will not move the partition: it is reloaded here.
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);

        Assert.True(manager.Leads(0));
        Assert.Equal((PartitionStatus.Serving, 2L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));
        Assert.Equal("\"foreign\"", System.Text.Encoding.UTF8.GetString(manager.Get("c", key)!.Json));
        var next = (await manager.ApplyAsync("c", [new ItemWriteData(key, "3"u8.ToArray(), default)], SafetyLevel.Durable, default))[0];
        Assert.Equal(first.Version + 2, next.Version);
        await manager.StopAsync();
    }

    [Fact]
    public async Task ApplyRolesAsync_MapGivesThisSiloTheEpochItsStartupLoadGuessed_LoadsAgainInsteadOfServingTheStaleLoad()
    {
        // Another silo leads partition 0 at epoch 1 and writes; this silo starts meanwhile and loads
        // every partition from the store, guessing epoch 2 (the stored 1 + 1).
        var other = await StartManagerAsync();
        await other.ApplyRolesAsync(Map(epoch: 1, primary: Other), Other, Silos, (_, _) => null, default);
        var key = KeyOfPartition0(other);
        await other.ApplyAsync("c", [new ItemWriteData(key, "1"u8.ToArray(), default)], SafetyLevel.Durable, default);
        var manager = await StartManagerAsync();
        Assert.Equal(2, manager.Partitions[0].Epoch);

        // The other primary writes again, then hands the partition to this silo at epoch 2.
        await other.ApplyAsync("c", [new ItemWriteData(key, "2"u8.ToArray(), default)], SafetyLevel.Durable, default);
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);

        Assert.Equal("2", System.Text.Encoding.UTF8.GetString(manager.Get("c", key)!.Json));
        await manager.StopAsync();
        await other.StopAsync();
    }

    [Fact]
    public async Task ApplyRolesAsync_BackAfterAHandoffWithNoStandbyCopy_StartsFromItsOwnStateAtTheSeal_NotTheStore()
    {
        // This silo handed partition 0 off with a write the store does not have yet (its successor
        // had it); the successor died before persisting it, and the partition comes back here.
        var gated = new Replication.GatedStateStore(_store);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        await manager.ApplyRolesAsync(Map(epoch: 2, primary: Self), Self, Silos, (_, _) => null, default);
        var key = KeyOfPartition0(manager);
        gated.Close();
        await manager.ApplyAsync("c", [new ItemWriteData(key, "1"u8.ToArray(), default)], SafetyLevel.Local, default);
        var handedOff = manager.Partitions[0];
        handedOff.MarkHandedOff(await handedOff.SealAsync());
        await _store.RepairAsync(0, 3, [], default); // the successor's epoch fences this silo's flush
        gated.Open();

        await manager.ApplyRolesAsync(Map(epoch: 4, primary: Self), Self, Silos, (_, _) => null, default);

        Assert.Equal((PartitionStatus.Serving, 4L), (manager.Partitions[0].Status, manager.Partitions[0].Epoch));
        Assert.Equal("1", System.Text.Encoding.UTF8.GetString(manager.Get("c", key)!.Json));
        await manager.StopAsync();
    }

    private static readonly SiloRecord[] Silos = [Record(Self, "self"), Record(Other, "other")];

    private async Task<PartitionManager> StartManagerAsync()
    {
        var manager = new PartitionManager(_store, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        return manager;
    }

    private static ItemKey KeyOfPartition0(PartitionManager manager) =>
        Enumerable.Range(0, 100).Select(i => new ItemKey($"k{i}")).First(k => manager.GetPartitionId("c", k) == 0);

    private static PartitionMap Map(long epoch, SiloIncarnation primary) => PartitionMap.From(PartitionCount,
    [
        new PartitionAssignment(0, epoch, epoch, primary, []),
        new PartitionAssignment(1, 1, 1, Self, []),
    ]);

    private static SiloRecord Record(SiloIncarnation address, string name) =>
        new(address, SiloStatus.Active, $"{name}:11111", $"{name}:30000", $"http://{name}:8080", string.Empty, name, string.Empty, 0, 0, 0);
}
