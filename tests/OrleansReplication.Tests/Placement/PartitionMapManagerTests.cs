using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Placement;

/// <summary>Co-controllers: several managers reconcile one real SQLite map concurrently and agree.</summary>
public sealed class PartitionMapManagerTests : IAsyncLifetime
{
    private const int Partitions = 64;

    private readonly TempDirectory _dir = new("or-map-");
    private readonly List<SqlitePartitionMapStore> _stores = [];
    private string _connectionString = null!;

    public async Task InitializeAsync()
    {
        _connectionString = StateStoreFactory.SqliteConnectionString(_dir.Path);
        await using var store = new SqliteStateStore(_connectionString);
        await store.InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task Reconcile_ThreeCoControllersAtOnce_OneConsistentBalancedMap()
    {
        var membership = Snapshot("a", "b", "c");
        var managers = Enumerable.Range(0, 3).Select(_ => NewManager()).ToList();

        var maps = await Task.WhenAll(managers.Select(m => Task.Run(() => m.ReconcileAsync(Partitions, membership, default))));
        var final = await NewManager().RefreshAsync(Partitions, default);

        Assert.True(final.IsComplete);
        Assert.All(final.Assignments, a =>
        {
            Assert.NotNull(a!.Primary);
            Assert.NotEqual(a.Primary, Assert.Single(a.Standbys));
        });
        var share = Partitions / 3.0;
        Assert.All(final.Assignments.GroupBy(a => a!.Primary), g => Assert.True(g.Count() <= 1.5 * share, $"{g.Key} leads {g.Count()}"));
        Assert.All(maps, m => Assert.True(m.IsComplete));
    }

    [Fact]
    public async Task Reconcile_SiloJoinsThenStandbySiloDies_StandbysMoveAndAreReplaced()
    {
        var manager = NewManager();
        await manager.ReconcileAsync(Partitions, Snapshot("a", "b"), default);

        PartitionMap map = null!;
        for (var round = 0; round < 30; round++)
        {
            map = await manager.ReconcileAsync(Partitions, Snapshot("a", "b", "c"), default);
        }

        var onC = map.Assignments.Count(a => a!.Standbys.Contains(Address("c")));
        Assert.InRange(onC, 18, 24);

        for (var round = 0; round < 3; round++)
        {
            map = await manager.ReconcileAsync(Partitions, Snapshot("a", "c"), default);
        }

        Assert.All(map.Assignments.Where(a => a!.Primary != Address("b")), a =>
        {
            Assert.DoesNotContain(Address("b"), a!.Standbys);
            Assert.NotEqual(a.Primary, Assert.Single(a.Standbys));
        });
    }

    [Fact]
    public async Task Reconcile_PrimarySiloDies_StandbysPromotedAndGroupsRefilledInOneWrite()
    {
        var manager = NewManager();
        await manager.ReconcileAsync(Partitions, Snapshot("a", "b", "c"), default);

        var map = await manager.ReconcileAsync(Partitions, Snapshot("b", "c"), default);

        Assert.All(map.Assignments, a =>
        {
            Assert.NotEqual(Address("a"), a!.Primary);
            Assert.DoesNotContain(Address("a"), a.Standbys);
            Assert.NotEqual(a.Primary, Assert.Single(a.Standbys));
        });
        Assert.Contains(map.Assignments, a => a!.Epoch == 2);
        Assert.Empty(PlacementPolicy.PlanFailover([.. map.Assignments.Select(a => a!)], Snapshot("b", "c").Active));
    }

    private PartitionMapManager NewManager()
    {
        var store = new SqlitePartitionMapStore(_connectionString);
        _stores.Add(store);
        return new PartitionMapManager(store, Options.Create(new PlacementOptions()), NullLogger<PartitionMapManager>.Instance);
    }

    private static SiloIncarnation Address(string id) => new(id, 1);

    private static MembershipSnapshot Snapshot(params string[] ids) => new(1, [.. ids.Select(id =>
        new SiloRecord(Address(id), SiloStatus.Active, "", "", "", "", "host-" + id, "", 0, 8L << 30, 0))]);
}
