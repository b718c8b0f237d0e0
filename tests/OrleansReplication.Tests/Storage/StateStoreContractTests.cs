using System.Text;
using OrleansReplication.Silo.Storage;
using Xunit;

namespace OrleansReplication.Tests.Storage;

/// <summary>
/// The <see cref="IStateStore"/> contract, run against every provider: each subclass only says how
/// to open a store on one fresh database per test.
/// </summary>
public abstract partial class StateStoreContractTests : IAsyncLifetime
{
    private const string Component = "orders";
    private readonly List<IStateStore> _stores = [];

    /// <summary>Opens a new, uninitialized store on this test's database; every call reaches the same database.</summary>
    private protected abstract Task<IStateStore> CreateStoreAsync();

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await CleanupAsync();
    }

    [Fact]
    public async Task InitializeAsync_CalledTwice_IsIdempotent()
    {
        var store = await OpenAsync(initialize: false);

        await store.InitializeAsync(CancellationToken.None);
        await store.CommitAsync(1, 1, 1, [Insert("a", 1, "{\"n\":1}")], CancellationToken.None);
        await store.InitializeAsync(CancellationToken.None);

        var data = await store.LoadPartitionAsync(1, CancellationToken.None);
        var item = Assert.Single(data.Items);
        Assert.Equal("a", item.Id);
        Assert.Equal(1, data.LastSequence);
    }

    [Fact]
    public async Task CommitAsync_WriteBehindWithoutSync_IsStoredAndFencedAlike_AndSyncAsyncSucceeds()
    {
        var store = await OpenAsync();

        await store.CommitAsync(4, 1, 1, [Insert("a", 1, "{}")], RequestRecords.None, CommitSync.Process, CancellationToken.None);
        await store.SyncAsync(CancellationToken.None);
        await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(4, 1, 1, [Insert("b", 1, "{}")], RequestRecords.None, CommitSync.Process, CancellationToken.None));

        var data = await store.LoadPartitionAsync(4, CancellationToken.None);
        Assert.Equal("a", Assert.Single(data.Items).Id);
        Assert.Equal(1, data.LastSequence);
    }

    [Fact]
    public async Task InitializeAsync_FourConcurrentSilos_AllSucceed()
    {
        var stores = new List<IStateStore>();
        for (var i = 0; i < 4; i++)
        {
            stores.Add(await OpenAsync(initialize: false));
        }

        // Task.Run: the SQLite driver's async methods complete synchronously, and these must overlap.
        await Task.WhenAll(stores.Select(store => Task.Run(() => store.InitializeAsync(CancellationToken.None))));

        await stores[3].CommitAsync(2, 1, 1, [Insert("a", 1, "{}")], CancellationToken.None);
        Assert.Single((await stores[0].LoadPartitionAsync(2, CancellationToken.None)).Items);
    }

    [Fact]
    public async Task GetOrSetPartitionCountAsync_SecondSiloProposesAnother_GetsTheFirst()
    {
        var first = await OpenAsync();
        var second = await OpenAsync();

        Assert.Equal(16, await first.GetOrSetPartitionCountAsync(16, CancellationToken.None));
        Assert.Equal(16, await second.GetOrSetPartitionCountAsync(64, CancellationToken.None));
        Assert.Equal(16, await first.GetOrSetPartitionCountAsync(8, CancellationToken.None));
    }

    [Fact]
    public async Task GetOrSetPartitionCountAsync_SilosStartAtOnce_AllAgree()
    {
        var stores = new List<IStateStore>();
        for (var i = 0; i < 4; i++)
        {
            stores.Add(await OpenAsync());
        }

        var counts = await Task.WhenAll(stores.Select((store, i) => Task.Run(() => store.GetOrSetPartitionCountAsync(10 + i, CancellationToken.None))));

        Assert.Single(counts.Distinct());
        Assert.InRange(counts[0], 10, 13);
    }

    [Fact]
    public async Task CommitAsync_ThenLoad_RoundTripsItemsByteForByte()
    {
        var store = await OpenAsync();
        var large = new byte[1024 * 1024];
        new Random(42).NextBytes(large); // every byte value, zeros included
        var writes = new List<StoredWrite>
        {
            Insert("empty-object", 3, "{}"),
            new(Component, string.Empty, "zero-length", 0, 4, []),
            new(Component, "клиент-Ω", "заказ/№1 🚀", 0, 5, Encoding.UTF8.GetBytes("{\"name\":\"Zoë 日本語 🚀\"}")),
            new("компонент", "tenant 'quoted' \"x\"", "id with spaces; DROP TABLE or_items", 0, 6, Encoding.UTF8.GetBytes("[]")),
            new(Component, string.Empty, "large", 0, 7, large),
        };

        await store.CommitAsync(5, 2, 7, writes, CancellationToken.None);
        var data = await (await OpenAsync()).LoadPartitionAsync(5, CancellationToken.None);

        Assert.Equal(5, data.PartitionId);
        Assert.Equal(2, data.Epoch);
        Assert.Equal(7, data.LastSequence);
        Assert.Equal(writes.Count, data.Items.Count);
        foreach (var write in writes)
        {
            var item = Assert.Single(data.Items, i => i.Component == write.Component && i.PartitionKey == write.PartitionKey && i.Id == write.Id);
            Assert.Equal(write.NewVersion, item.Version);
            Assert.True(write.Value.AsSpan().SequenceEqual(item.Value), $"value of '{write.Id}' changed in the store ({write.Value!.Length} bytes written, {item.Value.Length} read)");
        }
    }

    [Fact]
    public async Task LoadPartitionAsync_NeverWritten_ReturnsZeroEpochAndNoItems()
    {
        var store = await OpenAsync();

        var data = await store.LoadPartitionAsync(7, CancellationToken.None);

        Assert.Equal(new PartitionData(7, 0, 0, data.Items), data);
        Assert.Empty(data.Items);
    }

    [Fact]
    public async Task LoadPartitionHeadAsync_Written_ReturnsEpochSequenceAndRequestsWithoutItems()
    {
        var store = await OpenAsync();
        await store.CommitAsync(3, 4, 2, [Insert("a", 1, "{}"), Insert("b", 2, "{}")], Requests(0, Block(2, 1, 2)), CancellationToken.None);
        await store.CommitAsync(4, 1, 9, [Insert("other", 9, "{}")], Requests(0, Block(9, 5)), CancellationToken.None);

        var head = await store.LoadPartitionHeadAsync(3, CancellationToken.None);

        Assert.Equal((3, 4L, 2L), (head.PartitionId, head.Epoch, head.LastSequence));
        Assert.Empty(head.Items);
        var block = Assert.Single(head.Requests);
        Assert.Equal(2, block.LastSequence);
    }

    [Fact]
    public async Task LoadPartitionHeadAsync_NeverWritten_ReturnsZeroEpochAndSequence()
    {
        var store = await OpenAsync();

        var head = await store.LoadPartitionHeadAsync(7, CancellationToken.None);

        Assert.Equal((0L, 0L), (head.Epoch, head.LastSequence));
        Assert.Empty(head.Items);
        Assert.Empty(head.Requests);
    }

    [Fact]
    public async Task LoadPartitionAsync_OtherPartitionsHaveItems_LoadsOnlyItsOwn()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 1, [Insert("one", 1, "{\"p\":1}")], CancellationToken.None);
        await store.CommitAsync(2, 3, 2, [Insert("two-a", 1, "{\"p\":2}"), Insert("two-b", 2, "{\"p\":2}")], CancellationToken.None);
        await store.CommitAsync(3, 1, 1, [Insert("three", 1, "{\"p\":3}")], CancellationToken.None);

        var data = await store.LoadPartitionAsync(2, CancellationToken.None);

        Assert.Equal(["two-a", "two-b"], data.Items.Select(i => i.Id).Order());
        Assert.Equal((3, 2), (data.Epoch, data.LastSequence));
    }

    [Fact]
    public async Task CommitAsync_InsertOfExistingRow_ThrowsConflictAndPersistsNothing()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 1, [Insert("taken", 1, "{\"v\":1}")], CancellationToken.None);

        var conflict = await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(
            1, 1, 4, [Insert("new-before", 2, "{}"), Insert("taken", 3, "{\"v\":2}"), Insert("new-after", 4, "{}")], CancellationToken.None));

        Assert.Equal((1, 0L, 1L), (conflict.PartitionId, conflict.ExpectedVersion, conflict.ActualVersion));
        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 1, ("taken", 1, "{\"v\":1}"));
    }

    [Fact]
    public async Task CommitAsync_UpdateFromStaleVersion_ThrowsConflictAndPersistsNothing()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 1, [Insert("a", 1, "{\"v\":1}")], CancellationToken.None);
        await store.CommitAsync(1, 1, 2, [Update("a", 1, 2, "{\"v\":2}")], CancellationToken.None);

        var conflict = await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(
            1, 1, 4, [Insert("b", 3, "{}"), Update("a", 1, 4, "{\"v\":3}")], CancellationToken.None));

        Assert.Equal((1L, 2L), (conflict.ExpectedVersion, conflict.ActualVersion));
        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 2, ("a", 2, "{\"v\":2}"));
    }

    [Fact]
    public async Task CommitAsync_UpdateOfMissingRow_ThrowsConflictWithVersionZero()
    {
        var store = await OpenAsync();

        var conflict = await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(1, 1, 1, [Update("ghost", 3, 4, "{}")], CancellationToken.None));

        Assert.Equal((3L, 0L), (conflict.ExpectedVersion, conflict.ActualVersion));
        await AssertPartitionAsync(store, 1, epoch: 0, lastSequence: 0);
    }

    [Fact]
    public async Task CommitAsync_DeleteWithWrongVersion_ThrowsConflictAndKeepsTheRow()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 1, [Insert("a", 1, "{}")], CancellationToken.None);

        var wrong = await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(1, 1, 2, [Delete("a", 5, 2)], CancellationToken.None));
        var missing = await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(1, 1, 2, [Delete("never", 1, 2)], CancellationToken.None));

        Assert.Equal((5L, 1L), (wrong.ExpectedVersion, wrong.ActualVersion));
        Assert.Equal((1L, 0L), (missing.ExpectedVersion, missing.ActualVersion));
        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 1, ("a", 1, "{}"));
    }

    [Fact]
    public async Task CommitAsync_DeleteAtStoredVersion_RemovesTheRow()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 2, [Insert("gone", 1, "{}"), Insert("kept", 2, "{}")], CancellationToken.None);

        await store.CommitAsync(1, 1, 3, [Delete("gone", 1, 3)], CancellationToken.None);

        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 3, ("kept", 2, "{}"));
    }

    [Fact]
    public async Task CommitAsync_DeleteExpectingVersionZero_ThrowsArgumentExceptionBeforeAnyWrite()
    {
        var store = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => store.CommitAsync(1, 1, 1, [Insert("a", 1, "{}"), Delete("b", 0, 1)], CancellationToken.None));

        await AssertPartitionAsync(store, 1, epoch: 0, lastSequence: 0);
    }

    [Fact]
    public async Task CommitAsync_NoWrites_StillAdvancesEpochAndSequence()
    {
        var store = await OpenAsync();

        await store.CommitAsync(4, 2, 9, [], CancellationToken.None);

        await AssertPartitionAsync(store, 4, epoch: 2, lastSequence: 9);
    }

    [Fact]
    public async Task CommitAsync_LowerEpoch_ThrowsStaleEpochAndPersistsNothing()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 2, 5, [Insert("a", 5, "{\"by\":\"new leader\"}")], CancellationToken.None);

        var fenced = await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(
            1, 1, 6, [Update("a", 5, 6, "{\"by\":\"deposed\"}"), Insert("b", 6, "{}")], CancellationToken.None));

        Assert.Equal((1, 2L), (fenced.PartitionId, fenced.StoredEpoch));
        Assert.Contains("epoch 2 (sequence 5)", fenced.Message, StringComparison.Ordinal);
        await AssertPartitionAsync(store, 1, epoch: 2, lastSequence: 5, ("a", 5, "{\"by\":\"new leader\"}"));
    }

    [Fact]
    public async Task CommitAsync_HigherEpoch_IsAccepted()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 3, [Insert("a", 3, "{\"v\":1}")], CancellationToken.None);

        await store.CommitAsync(1, 2, 4, [Update("a", 3, 4, "{\"v\":2}")], CancellationToken.None);

        await AssertPartitionAsync(store, 1, epoch: 2, lastSequence: 4, ("a", 4, "{\"v\":2}"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task CommitAsync_ReplayedSequence_IsFencedAndPersistsNothing(int sequenceOffset)
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 5, [Insert("a", 5, "{}")], CancellationToken.None);

        var fenced = await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(
            1, 1, 5 + sequenceOffset, [Insert("b", 5 + sequenceOffset, "{}")], CancellationToken.None));

        Assert.Equal(1, fenced.StoredEpoch);
        await AssertPartitionAsync(store, 1, epoch: 1, lastSequence: 5, ("a", 5, "{}"));
    }

    [Fact]
    public async Task CommitAsync_TwentyRacingInsertsOfOneNewKey_ExactlyOneWins()
    {
        IStateStore[] stores = [await OpenAsync(), await OpenAsync()];

        var outcomes = await RaceAsync(stores, i => [Insert("contested", i + 1, $"{{\"writer\":{i}}}")]);

        var winner = Assert.Single(outcomes, o => o.Error is null);
        Assert.All(outcomes.Where(o => o.Error is not null), o => Assert.True(o.Error is StoreConflictException or StaleEpochException, $"writer {o.Writer} failed with {o.Error}"));
        var item = Assert.Single((await stores[0].LoadPartitionAsync(1, CancellationToken.None)).Items);
        Assert.Equal($"{{\"writer\":{winner.Writer}}}", Encoding.UTF8.GetString(item.Value));
    }

    [Fact]
    public async Task CommitAsync_TwentyRacingUpdatesFromOneVersion_ExactlyOneWins()
    {
        IStateStore[] stores = [await OpenAsync(), await OpenAsync()];
        await stores[0].CommitAsync(1, 1, 1, [Insert("contested", 1, "{\"writer\":\"none\"}")], CancellationToken.None);

        var outcomes = await RaceAsync(stores, i => [Update("contested", 1, i + 2, $"{{\"writer\":{i}}}")], firstSequence: 2);

        var winner = Assert.Single(outcomes, o => o.Error is null);
        Assert.All(outcomes.Where(o => o.Error is not null), o => Assert.True(o.Error is StoreConflictException or StaleEpochException, $"writer {o.Writer} failed with {o.Error}"));
        var item = Assert.Single((await stores[1].LoadPartitionAsync(1, CancellationToken.None)).Items);
        Assert.Equal((winner.Writer + 2L, $"{{\"writer\":{winner.Writer}}}"), (item.Version, Encoding.UTF8.GetString(item.Value)));
    }

    [Fact]
    public async Task CommitAsync_ManyPartitionsAtOnce_EachSucceedsOrFailsAlone()
    {
        var store = await OpenAsync();
        await store.CommitAsync(2, 5, 10, [Insert("two", 10, "{\"v\":\"stored\"}")], CancellationToken.None);
        await store.CommitAsync(3, 1, 10, [Insert("three", 10, "{\"v\":\"stored\"}")], CancellationToken.None);

        // Partition 2 is fenced (lower epoch) and partition 3 conflicts (stale version); the 30
        // others commit at the same moment and must persist, whatever group they share with those two.
        var commits = Enumerable.Range(0, 32).Select(p => Task.Run(() => p switch
        {
            2 => store.CommitAsync(2, 4, 11, [Insert("two-b", 11, "{}")], CancellationToken.None),
            3 => store.CommitAsync(3, 1, 11, [Insert("three-b", 11, "{}"), Update("three", 9, 11, "{\"v\":\"lost\"}")], CancellationToken.None),
            _ => store.CommitAsync(p + 100, 1, 1, [Insert($"item-{p}", 1, $"{{\"p\":{p}}}")], CancellationToken.None),
        })).ToArray();

        await Assert.ThrowsAsync<StaleEpochException>(() => commits[2]);
        await Assert.ThrowsAsync<StoreConflictException>(() => commits[3]);
        await Task.WhenAll(commits.Where((_, p) => p is not (2 or 3)));
        await AssertPartitionAsync(store, 2, epoch: 5, lastSequence: 10, ("two", 10, "{\"v\":\"stored\"}"));
        await AssertPartitionAsync(store, 3, epoch: 1, lastSequence: 10, ("three", 10, "{\"v\":\"stored\"}"));
        foreach (var p in Enumerable.Range(0, 32).Where(p => p is not (2 or 3)))
        {
            await AssertPartitionAsync(store, p + 100, epoch: 1, lastSequence: 1, ($"item-{p}", 1, $"{{\"p\":{p}}}"));
        }
    }

    [Fact]
    public async Task CommitAsync_CancelledToken_ThrowsAndPersistsNothing()
    {
        var store = await OpenAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CommitAsync(1, 1, 1, [Insert("a", 1, "{}")], cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.LoadPartitionAsync(1, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetOrSetPartitionCountAsync(4, cancelled.Token));

        await AssertPartitionAsync(store, 1, epoch: 0, lastSequence: 0);
    }

    /// <summary>Deletes whatever the subclass created for this test; runs after every store is disposed.</summary>
    private protected virtual Task CleanupAsync() => Task.CompletedTask;

    private static StoredWrite Insert(string id, long version, string json) => new(Component, string.Empty, id, 0, version, Encoding.UTF8.GetBytes(json));

    private static StoredWrite Update(string id, long expected, long version, string json) => new(Component, string.Empty, id, expected, version, Encoding.UTF8.GetBytes(json));

    private static StoredWrite Delete(string id, long expected, long sequence) => new(Component, string.Empty, id, expected, sequence, null);

    private static async Task AssertPartitionAsync(IStateStore store, int partitionId, long epoch, long lastSequence, params (string Id, long Version, string Json)[] expected)
    {
        var data = await store.LoadPartitionAsync(partitionId, CancellationToken.None);
        Assert.Equal((epoch, lastSequence), (data.Epoch, data.LastSequence));
        var actual = data.Items.OrderBy(i => i.Id, StringComparer.Ordinal).Select(i => (i.Id, i.Version, Encoding.UTF8.GetString(i.Value)));
        Assert.Equal(expected.OrderBy(e => e.Id, StringComparer.Ordinal), actual);
    }

    // 20 commits to partition 1 at epoch 1, alternating between the stores, all released at once.
    private static async Task<(int Writer, Exception? Error)[]> RaceAsync(IStateStore[] stores, Func<int, StoredWrite[]> writesOf, long firstSequence = 1)
    {
        const int Writers = 20;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, Writers).Select(i => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                await stores[i % stores.Length].CommitAsync(1, 1, firstSequence + i, writesOf(i), CancellationToken.None);
                return (i, (Exception?)null);
            }
            catch (Exception ex)
            {
                return (i, ex);
            }
        })).ToArray();
        start.SetResult();
        return await Task.WhenAll(racers);
    }

    private async Task<IStateStore> OpenAsync(bool initialize = true)
    {
        var store = await CreateStoreAsync();
        _stores.Add(store);
        if (initialize)
        {
            await store.InitializeAsync(CancellationToken.None);
        }

        return store;
    }
}
