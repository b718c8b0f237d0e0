using System.Text;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Storage;

/// <summary>
/// The <see cref="IPartitionMapStore"/> contract, run against every provider, together with the state
/// store on the same database: a map change must fence the deposed primary's store writes.
/// </summary>
public abstract class PartitionMapContractTests : IAsyncLifetime
{
    private static readonly SiloIncarnation A = new("silo-a", 1_700_000_000_001);
    private static readonly SiloIncarnation B = new("silo-b", 1_700_000_000_002);
    private static readonly SiloIncarnation C = new("silo-c", 7);

    private readonly List<IAsyncDisposable> _opened = [];
    private IStateStore _state = null!;

    /// <summary>Opens a new, uninitialized state store on this test's database; every call reaches the same database.</summary>
    private protected abstract Task<IStateStore> CreateStateStoreAsync();

    /// <summary>Opens a new map store on this test's database; every call reaches the same database.</summary>
    private protected abstract Task<IPartitionMapStore> CreateMapStoreAsync();

    /// <summary>Removes the test's database, after every store is disposed.</summary>
    private protected virtual Task CleanupAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _state = await CreateStateStoreAsync();
        _opened.Add(_state);
        await _state.InitializeAsync(CancellationToken.None);
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
    public async Task ReadPartitionMapAsync_NothingAssigned_ReturnsEmpty()
    {
        var map = await OpenAsync();

        Assert.Empty(await map.ReadPartitionMapAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_FirstVersion_InsertsTheRow()
    {
        var map = await OpenAsync();

        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(3, 1, 1, A, B, C), CancellationToken.None));

        await AssertMapAsync(await OpenAsync(), Assignment(3, 1, 1, A, B, C));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_FirstVersionTwice_SecondFailsAndKeepsTheFirst()
    {
        IPartitionMapStore[] maps = [await OpenAsync(), await OpenAsync()];
        Assert.True(await maps[0].TryUpdateAssignmentAsync(Assignment(0, 1, 1, A, B), CancellationToken.None));

        Assert.False(await maps[1].TryUpdateAssignmentAsync(Assignment(0, 1, 2, B, A), CancellationToken.None));

        await AssertMapAsync(maps[1], Assignment(0, 1, 1, A, B));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_StaleOrSkippedVersion_FailsAndChangesNothing()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 1, 1, A, B), CancellationToken.None));
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 2, 2, B, A), CancellationToken.None));

        Assert.False(await map.TryUpdateAssignmentAsync(Assignment(1, 2, 3, C, A), CancellationToken.None)); // read version 1, stale
        Assert.False(await map.TryUpdateAssignmentAsync(Assignment(1, 4, 3, C, A), CancellationToken.None)); // version 3 never existed
        Assert.False(await map.TryUpdateAssignmentAsync(Assignment(9, 2, 1, C), CancellationToken.None)); // partition 9 has no row

        await AssertMapAsync(map, Assignment(1, 2, 2, B, A));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_LowerEpoch_FailsAndChangesNothing()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 1, 5, A, B), CancellationToken.None));

        Assert.False(await map.TryUpdateAssignmentAsync(Assignment(1, 2, 4, B, A), CancellationToken.None));

        await AssertMapAsync(map, Assignment(1, 1, 5, A, B));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_StandbyOnlyChangeAtTheSameEpoch_Succeeds()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(2, 1, 3, A, B), CancellationToken.None));

        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(2, 2, 3, A, C, B), CancellationToken.None));

        await AssertMapAsync(map, Assignment(2, 2, 3, A, C, B));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_NoPrimaryAndNoStandbys_RoundTrips()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(4, 1, 1, A), CancellationToken.None));

        Assert.True(await map.TryUpdateAssignmentAsync(new PartitionAssignment(4, 2, 1, null, []), CancellationToken.None));

        var row = Assert.Single(await (await OpenAsync()).ReadPartitionMapAsync(CancellationToken.None));
        Assert.Null(row.Primary);
        Assert.Empty(row.Standbys);
        Assert.Equal((4, 2L, 1L), (row.PartitionId, row.Version, row.Epoch));
    }

    [Fact]
    public async Task ReadPartitionMapAsync_SeveralPartitions_OrderedByPartitionIdWithStandbysInOrder()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(12, 1, 1, C, B, A), CancellationToken.None));
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(0, 1, 2, A, C, B), CancellationToken.None));
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(3, 1, 1, null, B), CancellationToken.None));

        await AssertMapAsync(map, Assignment(0, 1, 2, A, C, B), Assignment(3, 1, 1, null, B), Assignment(12, 1, 1, C, B, A));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task TryUpdateAssignmentAsync_TwentyRacersFromTwoStoresOnOneVersion_ExactlyOneWins(long version)
    {
        IPartitionMapStore[] maps = [await OpenAsync(), await OpenAsync()];
        if (version > 1)
        {
            Assert.True(await maps[0].TryUpdateAssignmentAsync(Assignment(1, version - 1, 1, A, B), CancellationToken.None));
        }

        // Every racer names a different primary, so the stored row tells who won. Task.Run because the
        // SQLite driver's async methods complete synchronously and these must overlap.
        const int Racers = 20;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, Racers).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await maps[i % 2].TryUpdateAssignmentAsync(Assignment(1, version, 2, new SiloIncarnation($"racer-{i}", i), A), CancellationToken.None);
        })).ToArray();
        start.SetResult();
        var won = await Task.WhenAll(racers);

        var winner = Assert.Single(Enumerable.Range(0, Racers), i => won[i]);
        await AssertMapAsync(maps[1], Assignment(1, version, 2, new SiloIncarnation($"racer-{winner}", winner), A));
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_RaisedEpoch_FencesTheOldPrimaryAndKeepsLastSequence()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 1, 1, A, B), CancellationToken.None));
        await _state.CommitAsync(1, 1, 5, [Insert("a", 5)], CancellationToken.None);

        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 2, 2, B, A), CancellationToken.None));

        var fenced = await Assert.ThrowsAsync<StaleEpochException>(() => _state.CommitAsync(1, 1, 6, [Insert("deposed", 6)], CancellationToken.None));
        Assert.Equal(2, fenced.StoredEpoch);
        await AssertPartitionHeadAsync(1, epoch: 2, lastSequence: 5, "a");

        // The new primary continues the sequence: not at or below 5, but above it.
        await Assert.ThrowsAsync<StaleEpochException>(() => _state.CommitAsync(1, 2, 5, [Insert("replayed", 5)], CancellationToken.None));
        await _state.CommitAsync(1, 2, 6, [Insert("b", 6)], CancellationToken.None);
        await AssertPartitionHeadAsync(1, epoch: 2, lastSequence: 6, "a", "b");
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_PartitionNeverWritten_CreatesTheFenceAtItsEpoch()
    {
        var map = await OpenAsync();

        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(6, 1, 3, A, B), CancellationToken.None));

        await AssertPartitionHeadAsync(6, epoch: 3, lastSequence: 0);
        await Assert.ThrowsAsync<StaleEpochException>(() => _state.CommitAsync(6, 2, 1, [Insert("old", 1)], CancellationToken.None));
        await _state.CommitAsync(6, 3, 1, [Insert("new", 1)], CancellationToken.None);
        await AssertPartitionHeadAsync(6, epoch: 3, lastSequence: 1, "new");
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_StoreAlreadyAtAHigherEpoch_NeverLowersIt()
    {
        var map = await OpenAsync();
        await _state.CommitAsync(1, 5, 3, [Insert("a", 3)], CancellationToken.None);

        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 1, 2, A, B), CancellationToken.None));

        await AssertPartitionHeadAsync(1, epoch: 5, lastSequence: 3, "a");
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_FailedSwap_LeavesTheFenceAlone()
    {
        var map = await OpenAsync();
        Assert.True(await map.TryUpdateAssignmentAsync(Assignment(1, 1, 1, A, B), CancellationToken.None));
        await _state.CommitAsync(1, 1, 4, [Insert("a", 4)], CancellationToken.None);

        Assert.False(await map.TryUpdateAssignmentAsync(Assignment(1, 3, 7, B, A), CancellationToken.None)); // skipped version
        Assert.False(await map.TryUpdateAssignmentAsync(Assignment(1, 1, 8, B, A), CancellationToken.None)); // second insert

        await AssertPartitionHeadAsync(1, epoch: 1, lastSequence: 4, "a");
        await _state.CommitAsync(1, 1, 5, [Insert("b", 5)], CancellationToken.None);
    }

    [Fact]
    public async Task TryUpdateAssignmentAsync_UnstorableAssignment_ThrowsArgumentExceptionAndWritesNothing()
    {
        var map = await OpenAsync();
        PartitionAssignment[] invalid =
        [
            Assignment(1, 0, 1, A),
            Assignment(-1, 1, 1, A),
            Assignment(1, 1, -1, A),
            Assignment(1, 1, 1, new SiloIncarnation("has space", 1)),
            Assignment(1, 1, 1, A, new SiloIncarnation("x@y", 1)),
            Assignment(1, 1, 1, A, new SiloIncarnation("neg", -5)),
            Assignment(1, 1, 1, A, default(SiloIncarnation)),
            new(1, 1, 1, A, null!),
        ];

        foreach (var assignment in invalid)
        {
            await Assert.ThrowsAnyAsync<ArgumentException>(() => map.TryUpdateAssignmentAsync(assignment, CancellationToken.None));
        }

        await Assert.ThrowsAsync<ArgumentNullException>(() => map.TryUpdateAssignmentAsync(null!, CancellationToken.None));
        Assert.Empty(await map.ReadPartitionMapAsync(CancellationToken.None));
    }

    private static PartitionAssignment Assignment(int partitionId, long version, long epoch, SiloIncarnation? primary, params SiloIncarnation[] standbys) =>
        new(partitionId, version, epoch, primary, standbys);

    // PartitionAssignment compares its standby list by reference: compare a readable text form instead.
    private static string Describe(PartitionAssignment row) =>
        $"partition {row.PartitionId} v{row.Version} epoch {row.Epoch} primary {row.Primary?.ToString() ?? "(none)"} standbys [{string.Join(", ", row.Standbys)}]";

    private static StoredWrite Insert(string id, long version) => new("orders", string.Empty, id, 0, version, Encoding.UTF8.GetBytes("{}"));

    private static async Task AssertMapAsync(IPartitionMapStore map, params PartitionAssignment[] expected) =>
        Assert.Equal(expected.Select(Describe), (await map.ReadPartitionMapAsync(CancellationToken.None)).Select(Describe));

    private async Task AssertPartitionHeadAsync(int partitionId, long epoch, long lastSequence, params string[] itemIds)
    {
        var data = await _state.LoadPartitionAsync(partitionId, CancellationToken.None);
        Assert.Equal((epoch, lastSequence), (data.Epoch, data.LastSequence));
        Assert.Equal(itemIds, data.Items.Select(i => i.Id).Order(StringComparer.Ordinal));
    }

    private async Task<IPartitionMapStore> OpenAsync()
    {
        var map = await CreateMapStoreAsync();
        _opened.Add((IAsyncDisposable)map);
        return map;
    }
}
