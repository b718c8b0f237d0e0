using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Storage;

/// <summary>
/// The <see cref="IMembershipTable"/> contract, run against every provider: each subclass only says how
/// to open a state store (for the schema) and a table on one fresh database per test.
/// </summary>
public abstract class MembershipTableContractTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _opened = [];

    /// <summary>Opens a new, uninitialized state store on this test's database; used to apply the schema.</summary>
    private protected abstract Task<IStateStore> CreateStateStoreAsync();

    /// <summary>Opens a new table on this test's database; every call reaches the same database.</summary>
    private protected abstract Task<IMembershipTable> CreateTableAsync();

    /// <summary>Removes the test's database, after every store and table is disposed.</summary>
    private protected virtual Task CleanupAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var store = await CreateStateStoreAsync();
        _opened.Add(store);
        await store.InitializeAsync(CancellationToken.None);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var opened in _opened)
        {
            await opened.DisposeAsync();
        }

        await CleanupAsync();
    }

    [Fact]
    public async Task ReadAllAsync_NoSiloJoined_ReturnsEmpty()
    {
        var table = await OpenAsync();

        Assert.Empty(await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task JoinAsync_ThenReadAll_RoundTripsEveryFieldOrderedByIdThenIncarnation()
    {
        var table = await OpenAsync();
        SiloRecord[] silos =
        [
            new(new SiloIncarnation("silo-b", 1_700_000_000_123), SiloStatus.Joining, "10.0.0.2:11111", "10.0.0.2:30000", "http://10.0.0.2:8080", "eu-west-1a", "node-7", "rack 'R1'", 1_700_000_000_500, long.MaxValue, 0),
            new(new SiloIncarnation("silo-a", 2), SiloStatus.ShuttingDown, "[::1]:11111", "[::1]:30000", "https://a.example/", "zone-Ω", "hôst-日本", "", 9, 0, int.MaxValue),
            new(new SiloIncarnation("silo-a", 1), SiloStatus.Active, "a:1", "a:2", "http://a:3", "", "", "", 0, 512L * 1024 * 1024 * 1024, 17),
            new(new SiloIncarnation("Silo-C", long.MaxValue), SiloStatus.Dead, "c:1", "c:2", "http://c:3", "z", "h", "r", long.MaxValue, 1, 1),
        ];

        // silo-a@2 joins after silo-a@1 so that the join of @1 cannot mark @2 Dead (only older ones).
        foreach (var silo in silos.OrderBy(s => s.Address.Incarnation))
        {
            await table.JoinAsync(silo, CancellationToken.None);
        }

        var read = await (await OpenAsync()).ReadAllAsync(CancellationToken.None);

        // silo-a@1 was marked Dead by silo-a@2's join; everything else is byte for byte as written.
        SiloRecord[] expected = [silos[3], silos[2] with { Status = SiloStatus.Dead }, silos[1], silos[0]];
        Assert.Equal(expected, read);
    }

    [Fact]
    public async Task JoinAsync_NewerIncarnation_MarksOnlyOlderIncarnationsOfThatSiloDead()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("a", 1, SiloStatus.Active), CancellationToken.None);
        await table.JoinAsync(Silo("a", 2, SiloStatus.ShuttingDown), CancellationToken.None);
        await table.JoinAsync(Silo("a", 9, SiloStatus.Joining), CancellationToken.None);
        await table.JoinAsync(Silo("b", 1, SiloStatus.Active), CancellationToken.None);

        await table.JoinAsync(Silo("a", 5, SiloStatus.Joining), CancellationToken.None);

        Assert.Equal(
            [("a@1", SiloStatus.Dead), ("a@2", SiloStatus.Dead), ("a@5", SiloStatus.Joining), ("a@9", SiloStatus.Joining), ("b@1", SiloStatus.Active)],
            (await table.ReadAllAsync(CancellationToken.None)).Select(s => (s.Address.ToString(), s.Status)));
    }

    [Fact]
    public async Task JoinAsync_SameIncarnationAgain_ReplacesItsRow()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("a", 1, SiloStatus.Joining), CancellationToken.None);
        var again = Silo("a", 1, SiloStatus.Active) with { SiloEndpoint = "moved:11111", Zone = "z2", IAmAlive = 50 };

        await table.JoinAsync(again, CancellationToken.None);

        Assert.Equal([again], await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task HeartbeatAsync_LiveSilo_UpdatesLivenessAndDynamicAttributesAndReturnsTrue()
    {
        var table = await OpenAsync();
        var silo = Silo("a", 1, SiloStatus.Active);
        await table.JoinAsync(silo, CancellationToken.None);
        await table.JoinAsync(Silo("b", 1, SiloStatus.Active), CancellationToken.None);

        Assert.True(await table.HeartbeatAsync(silo.Address, 2_000, 4_096, 12, CancellationToken.None));

        var read = await table.ReadAllAsync(CancellationToken.None);
        Assert.Equal(silo with { IAmAlive = 2_000, FreeMemoryBytes = 4_096, PartitionsCarried = 12 }, read[0]);
        Assert.Equal(Silo("b", 1, SiloStatus.Active), read[1]);
    }

    [Fact]
    public async Task HeartbeatAsync_AfterDeclaredDead_ReturnsFalseAndChangesNothing()
    {
        var table = await OpenAsync();
        var silo = Silo("a", 1, SiloStatus.Active);
        await table.JoinAsync(silo, CancellationToken.None);
        Assert.True(await table.TryUpdateStatusAsync(silo.Address, SiloStatus.Active, SiloStatus.Dead, CancellationToken.None));

        Assert.False(await (await OpenAsync()).HeartbeatAsync(silo.Address, 9_999, 1, 99, CancellationToken.None));

        Assert.Equal([silo with { Status = SiloStatus.Dead }], await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task HeartbeatAsync_UnknownIncarnation_ReturnsFalseAndAddsNoRow()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("a", 1, SiloStatus.Active), CancellationToken.None);

        Assert.False(await table.HeartbeatAsync(new SiloIncarnation("a", 2), 9_999, 1, 1, CancellationToken.None));

        Assert.Equal([Silo("a", 1, SiloStatus.Active)], await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TryUpdateStatusAsync_ExpectedStatus_ChangesItAndReturnsTrue()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("a", 1, SiloStatus.Joining), CancellationToken.None);

        Assert.True(await table.TryUpdateStatusAsync(new SiloIncarnation("a", 1), SiloStatus.Joining, SiloStatus.Active, CancellationToken.None));

        Assert.Equal([Silo("a", 1, SiloStatus.Active)], await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TryUpdateStatusAsync_WrongExpectedStatus_ReturnsFalseAndChangesNothing()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("a", 1, SiloStatus.Joining), CancellationToken.None);

        Assert.False(await table.TryUpdateStatusAsync(new SiloIncarnation("a", 1), SiloStatus.Active, SiloStatus.Dead, CancellationToken.None));
        Assert.False(await table.TryUpdateStatusAsync(new SiloIncarnation("a", 2), SiloStatus.Joining, SiloStatus.Dead, CancellationToken.None));

        Assert.Equal([Silo("a", 1, SiloStatus.Joining)], await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TryUpdateStatusAsync_UndefinedStatus_ThrowsBeforeAnyWrite()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("a", 1, SiloStatus.Active), CancellationToken.None);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => table.TryUpdateStatusAsync(new SiloIncarnation("a", 1), SiloStatus.Active, (SiloStatus)42, CancellationToken.None));

        Assert.Equal([Silo("a", 1, SiloStatus.Active)], await table.ReadAllAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TryUpdateStatusAsync_TwoTablesDeclareTheSameSiloDeadAtOnce_ExactlyOneWins()
    {
        IMembershipTable[] tables = [await OpenAsync(), await OpenAsync()];
        const int Silos = 10;
        for (var i = 0; i < Silos; i++)
        {
            await tables[0].JoinAsync(Silo($"s{i}", 1, SiloStatus.Active), CancellationToken.None);
        }

        // Two racers per silo, one per table, all released at once; Task.Run because the SQLite
        // driver's async methods complete synchronously and these must overlap.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, Silos * 2).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return (Silo: i / 2, Won: await tables[i % 2].TryUpdateStatusAsync(new SiloIncarnation($"s{i / 2}", 1), SiloStatus.Active, SiloStatus.Dead, CancellationToken.None));
        })).ToArray();
        start.SetResult();
        var outcomes = await Task.WhenAll(racers);

        Assert.All(outcomes.GroupBy(o => o.Silo), g => Assert.Equal(1, g.Count(o => o.Won)));
        Assert.All(await tables[1].ReadAllAsync(CancellationToken.None), s => Assert.Equal(SiloStatus.Dead, s.Status));
    }

    [Fact]
    public async Task CleanupDeadAsync_DeletesOnlyDeadRowsOlderThanTheCutoff()
    {
        var table = await OpenAsync();
        await table.JoinAsync(Silo("old-dead", 1, SiloStatus.Dead) with { IAmAlive = 999 }, CancellationToken.None);
        await table.JoinAsync(Silo("cutoff-dead", 1, SiloStatus.Dead) with { IAmAlive = 1_000 }, CancellationToken.None);
        await table.JoinAsync(Silo("recent-dead", 1, SiloStatus.Dead) with { IAmAlive = 5_000 }, CancellationToken.None);
        await table.JoinAsync(Silo("old-active", 1, SiloStatus.Active) with { IAmAlive = 1 }, CancellationToken.None);
        await table.JoinAsync(Silo("old-leaving", 1, SiloStatus.ShuttingDown) with { IAmAlive = 1 }, CancellationToken.None);

        Assert.Equal(1, await table.CleanupDeadAsync(1_000, CancellationToken.None));
        Assert.Equal(0, await table.CleanupDeadAsync(1_000, CancellationToken.None));

        Assert.Equal(
            ["cutoff-dead", "old-active", "old-leaving", "recent-dead"],
            (await table.ReadAllAsync(CancellationToken.None)).Select(s => s.Address.SiloId));
    }

    private static SiloRecord Silo(string id, long incarnation, SiloStatus status) =>
        new(new SiloIncarnation(id, incarnation), status, $"{id}:11111", $"{id}:30000", $"http://{id}:8080", "zone-1", $"host-{id}", "rack-1", 1_000, 1L << 30, 3);

    private async Task<IMembershipTable> OpenAsync()
    {
        var table = await CreateTableAsync();
        _opened.Add((IAsyncDisposable)table);
        return table;
    }
}
