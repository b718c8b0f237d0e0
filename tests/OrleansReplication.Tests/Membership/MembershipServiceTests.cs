using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Runtime;

namespace OrleansReplication.Tests.Membership;

/// <summary>
/// Two membership agents sharing one real SQLite table. Their timer loops are parked (hour-long
/// intervals) and the tests drive heartbeats and refreshes by hand on a manual clock, so every
/// step is deterministic.
/// </summary>
public sealed class MembershipServiceTests : IAsyncLifetime
{
    private static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ConfirmTimeout = TimeSpan.FromMilliseconds(600);

    private readonly TempDirectory _dir = new("or-members-");
    private readonly ManualTimeProvider _time = new();
    private readonly List<(MembershipService Service, ApplicationLifetime Lifetime)> _silos = [];
    private SqliteMembershipTable _table = null!;

    public async Task InitializeAsync()
    {
        var connectionString = StateStoreFactory.SqliteConnectionString(_dir.Path);
        await using (var store = new SqliteStateStore(connectionString))
        {
            await store.InitializeAsync(default);
        }

        _table = new SqliteMembershipTable(connectionString);
    }

    public async Task DisposeAsync()
    {
        foreach (var (service, _) in _silos)
        {
            await service.DisposeAsync();
        }

        await _table.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Join_TwoSilos_EachSeesBothActive()
    {
        var (a, _) = await StartSiloAsync("a");
        var (b, _) = await StartSiloAsync("b");

        await a.RefreshAsync(default);

        Assert.Equal([a.Self, b.Self], a.Current.Active.Select(s => s.Address));
        var row = a.Current.Silos.Single(s => s.Address == b.Self);
        Assert.Equal("zone-b", row.Zone);
        Assert.Equal("host-b", row.Host);
        Assert.EndsWith(":30001", row.GatewayEndpoint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refresh_PeerHeartbeatStalledPastTimeout_DeclaredDeadAndItStopsItself()
    {
        var (a, _) = await StartSiloAsync("a");
        var (b, bLifetime) = await StartSiloAsync("b");
        await a.RefreshAsync(default);

        _time.Advance(DeathTimeout - TimeSpan.FromMilliseconds(1));
        Assert.True(await a.HeartbeatAsync(default));
        await a.RefreshAsync(default);
        Assert.True(a.Current.IsAlive(b.Self), "b was declared dead before its death timeout.");

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await a.RefreshAsync(default);

        Assert.False(a.Current.IsAlive(b.Self));
        Assert.False(await b.HeartbeatAsync(default));
        Assert.True(bLifetime.ApplicationStopping.IsCancellationRequested, "A silo declared dead must stop serving.");
    }

    [Fact]
    public async Task Suspect_HeartbeatStandsStillPastConfirmTimeout_DeclaredDeadLongBeforeDeathTimeout()
    {
        var events = new ClusterEventChannel(_time, NullLogger<ClusterEventChannel>.Instance);
        var (a, _) = await StartSiloAsync("a", events);
        var (b, bLifetime) = await StartSiloAsync("b");
        await a.RefreshAsync(default);

        a.Suspect(b.Self, "its silo-to-silo connection broke (test)", ConfirmTimeout);
        _time.Advance(ConfirmTimeout - TimeSpan.FromMilliseconds(1));
        await a.RefreshAsync(default);
        Assert.True(a.Current.IsAlive(b.Self), "b was declared dead before its heartbeat stood still for the confirm timeout.");

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await a.RefreshAsync(default);

        Assert.False(a.Current.IsAlive(b.Self));
        Assert.False(await b.HeartbeatAsync(default));
        Assert.True(bLifetime.ApplicationStopping.IsCancellationRequested, "A silo declared dead must stop serving.");
        Assert.Contains(events.Recent, e => e.Kind == ClusterEventKinds.SiloSuspected && e.Silo == b.Self.ToString());
        var dead = Assert.Single(events.Recent, e => e.Kind == ClusterEventKinds.SiloDeclaredDead);
        Assert.Contains("connection broke", dead.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Suspect_BrokenConnectionThenRefusedConnect_DeclaredDeadAtTheNextReadByDefault()
    {
        var refusedConfirm = new MembershipOptions().RefusedConfirmTimeout;
        var (a, _) = await StartSiloAsync("a");
        var (b, _) = await StartSiloAsync("b");
        await a.RefreshAsync(default);

        // Its last heartbeat landed just before it died: even a heartbeat that just moved does not delay the refusal.
        Assert.True(await b.HeartbeatAsync(default));
        a.Suspect(b.Self, "its silo-to-silo connection broke (test)", ConfirmTimeout);
        a.Suspect(b.Self, "its silo port refused a connection (test)", refusedConfirm);
        await a.RefreshAsync(default);

        Assert.Equal(TimeSpan.Zero, refusedConfirm);
        Assert.False(a.Current.IsAlive(b.Self), "A refused reconnect after a broken connection must declare the peer dead at the next read of the table.");
    }

    [Fact]
    public async Task Suspect_RefusedConnectWithConfiguredConfirmTimeout_ConfirmedOnceTheHeartbeatStoodStillThatLong()
    {
        var refusedConfirm = TimeSpan.FromMilliseconds(300);
        var (a, _) = await StartSiloAsync("a");
        var (b, _) = await StartSiloAsync("b");
        await a.RefreshAsync(default);

        a.Suspect(b.Self, "its silo-to-silo connection broke (test)", ConfirmTimeout);
        a.Suspect(b.Self, "its silo port refused a connection (test)", refusedConfirm);
        _time.Advance(refusedConfirm - TimeSpan.FromMilliseconds(1));
        await a.RefreshAsync(default);
        Assert.True(a.Current.IsAlive(b.Self), "b was declared dead before its heartbeat stood still for the configured refused-connection confirm timeout.");

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await a.RefreshAsync(default);

        Assert.False(a.Current.IsAlive(b.Self));
    }

    [Fact]
    public async Task Suspect_RefusedConnectWithConfiguredConfirmTimeoutButHeartbeatMoves_NotDeclaredDead()
    {
        var refusedConfirm = TimeSpan.FromMilliseconds(300);
        var (a, _) = await StartSiloAsync("a");
        var (b, _) = await StartSiloAsync("b");
        await a.RefreshAsync(default);

        a.Suspect(b.Self, "its silo port refused a connection (test)", refusedConfirm);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(refusedConfirm / 2);
            Assert.True(await b.HeartbeatAsync(default));
            await a.RefreshAsync(default);
        }

        Assert.True(a.Current.IsAlive(b.Self), "With a refused-connection confirm timeout set, a silo whose heartbeat moves must not be declared dead.");
    }

    [Fact]
    public async Task Suspect_PeerKeepsHeartbeating_NotDeclaredDeadAndSuspicionCleared()
    {
        var (a, _) = await StartSiloAsync("a");
        var (b, _) = await StartSiloAsync("b");
        await a.RefreshAsync(default);

        a.Suspect(b.Self, "it left probes unanswered (test)", ConfirmTimeout);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(ConfirmTimeout / 2);
            Assert.True(await b.HeartbeatAsync(default));
            await a.RefreshAsync(default);
        }

        Assert.True(a.Current.IsAlive(b.Self), "A suspected silo whose heartbeat moves must not be declared dead.");
        a.ClearSuspicion(b.Self);
        Assert.False(a.IsSuspected(b.Self));
    }

    [Fact]
    public async Task Refresh_PeerKeepsHeartbeating_NeverDeclaredDead()
    {
        var (a, _) = await StartSiloAsync("a");
        var (b, _) = await StartSiloAsync("b");

        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(2));
            Assert.True(await b.HeartbeatAsync(default));
            await a.RefreshAsync(default);
        }

        Assert.True(a.Current.IsAlive(b.Self));
    }

    [Fact]
    public async Task Join_RestartedSilo_OldIncarnationDead()
    {
        var (old, _) = await StartSiloAsync("a");
        _time.Advance(TimeSpan.FromSeconds(1));
        var (restarted, _) = await StartSiloAsync("a");

        await restarted.RefreshAsync(default);

        Assert.NotEqual(old.Self, restarted.Self);
        Assert.False(restarted.Current.IsAlive(old.Self));
        Assert.Equal([restarted.Self], restarted.Current.Active.Select(s => s.Address));
    }

    [Fact]
    public async Task WatchAsync_PeerJoinsAndLeaves_PublishesEachChange()
    {
        var (a, _) = await StartSiloAsync("a");
        await using var watch = a.WatchAsync().GetAsyncEnumerator();
        Assert.True(await watch.MoveNextAsync());
        Assert.Single(watch.Current.Active);

        var (b, _) = await StartSiloAsync("b");
        await a.RefreshAsync(default);
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, watch.Current.Active.Count);

        await b.StopAsync(default);
        await a.RefreshAsync(default);
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal([a.Self], watch.Current.Active.Select(s => s.Address));
        Assert.False(watch.Current.IsAlive(b.Self));
    }

    [Fact]
    public async Task Refresh_UnchangedTable_PublishesNoNewSnapshot()
    {
        var (a, _) = await StartSiloAsync("a");
        var before = a.Current.Version;

        _time.Advance(TimeSpan.FromSeconds(1));
        await a.HeartbeatAsync(default);
        await a.RefreshAsync(default);

        Assert.Equal(before, a.Current.Version);
    }

    private async Task<(MembershipService Service, ApplicationLifetime Lifetime)> StartSiloAsync(string id, ClusterEventChannel? events = null)
    {
        var index = _silos.Count;
        var siloOptions = Options.Create(new SiloOptions { SiloId = id, Instance = index });
        var lifetime = new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance);
        var service = new MembershipService(
            _table,
            new SiloIdentity(siloOptions, _time),
            Options.Create(new MembershipOptions
            {
                HeartbeatInterval = TimeSpan.FromHours(1),
                RefreshInterval = TimeSpan.FromHours(1),
                DeathTimeout = DeathTimeout,
                Zone = "zone-" + id,
                Host = "host-" + id,
            }),
            _time,
            NullLogger<MembershipService>.Instance,
            lifetime,
            events: events);
        await service.StartAsync(default);
        await service.MarkActiveAsync(default);
        _silos.Add((service, lifetime));
        return (service, lifetime);
    }
}
