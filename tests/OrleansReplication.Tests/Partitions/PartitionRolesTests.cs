using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.Partitions;

/// <summary>
/// A partition this silo takes over (a failover promotes it here): writes that reach it while it
/// starts wait for it instead of being redirected to the old primary, which after a crash is gone.
/// The start is held at a gated store, so the order of events is deterministic.
/// </summary>
public sealed class PartitionRolesTests : IAsyncLifetime
{
    private const int PartitionCount = 4;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly SiloAddress Self = new("self", 1);
    private static readonly SiloAddress Old = new("old", 1);
    private static readonly IReadOnlyList<SiloRecord> Silos = [Record(Self, 30001), Record(Old, 30002)];

    private readonly TempDirectory _dir = new("or-roles-");
    private SqliteStateStore _sqlite = null!;

    public async Task InitializeAsync()
    {
        _sqlite = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir.Path));
        await _sqlite.InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        await _sqlite.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task WriteWhileThePartitionIsTakenOverHere_WaitsForItToServe_NotRedirectedToTheOldPrimary()
    {
        var gated = new GatedStateStore(_sqlite);
        var manager = new PartitionManager(gated, NullLoggerFactory.Instance);
        await manager.StartAsync(PartitionCount, default);
        try
        {
            await manager.ApplyRolesAsync(Map(Old, epoch: 1), Self, Silos, _ => null, default);
            var moved = await Assert.ThrowsAsync<PartitionMovedException>(() => WriteAsync(manager));
            Assert.EndsWith(":30002", moved.PrimaryGatewayEndpoint, StringComparison.Ordinal);

            // The old primary died: the map makes this silo the primary, and its start is held.
            gated.CloseLoads();
            var applying = manager.ApplyRolesAsync(Map(Self, epoch: 2), Self, Silos, _ => null, default);
            var write = WriteAsync(manager);
            Assert.False(write.IsCompleted, "The write completed (or was redirected) before the partition it goes to served here.");

            gated.OpenLoads();
            var result = await Wait.ForAsync(write, Deadline, "the write held while its partition started");
            await Wait.ForAsync(applying, Deadline, "the roles applied");
            Assert.Equal(1, Assert.Single(result).Version);
        }
        finally
        {
            gated.OpenLoads();
            await manager.StopAsync();
        }
    }

    private static Task<IReadOnlyList<WriteResult>> WriteAsync(PartitionManager manager) =>
        manager.ApplyAsync("c", [new ItemWriteData(new ItemKey("k"), Encoding.UTF8.GetBytes("{\"n\":1}"), Expect.Any)], SafetyLevel.Local, default);

    private static PartitionMap Map(SiloAddress primary, long epoch) =>
        PartitionMap.From(PartitionCount, Enumerable.Range(0, PartitionCount).Select(p => new PartitionAssignment(p, epoch, epoch, primary, [])));

    private static SiloRecord Record(SiloAddress address, int gatewayPort) =>
        new(address, SiloStatus.Active, "127.0.0.1:1", $"127.0.0.1:{gatewayPort}", "127.0.0.1:2", string.Empty, string.Empty, string.Empty, 0, 0, 0);
}
