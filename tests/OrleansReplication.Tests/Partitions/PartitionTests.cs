using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Partitions;

public sealed class PartitionTests : IAsyncLifetime
{
    private const int PartitionCount = 8;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly string _dir = Directory.CreateTempSubdirectory("or-part-").FullName;
    private SqliteStateStore _store = null!;
    private PartitionManager _partitions = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir));
        await _store.InitializeAsync(default);
        _partitions = new PartitionManager(_store, NullLoggerFactory.Instance);
        await _partitions.StartAsync(PartitionCount, default);
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

    [Fact]
    public async Task Apply_WritesToOnePartition_VersionsAreThePartitionsIncreasingSequenceNumbers()
    {
        var a = new ItemKey("a", "p");
        var b = new ItemKey("b", "p");

        Assert.Equal(1, (await ApplyAsync("c", Set(a, "1")))[0].Version);
        Assert.Equal(2, (await ApplyAsync("c", Set(b, "1")))[0].Version);
        Assert.Equal(3, (await ApplyAsync("c", Set(a, "2")))[0].Version);
        var batch = await ApplyAsync("c", Set(a, "3"), Set(b, "3"));

        Assert.Equal([4L, 5L], batch.Select(r => r.Version));
        Assert.Equal(5, _partitions.Partitions[_partitions.GetPartitionId("c", a)].LastSequence);

        // Another partition numbers its own changes from 1.
        var elsewhere = KeyInOtherPartition("c", a);
        Assert.Equal(1, (await ApplyAsync("c", Set(elsewhere, "1")))[0].Version);
    }

    [Fact]
    public async Task Apply_CreateThenUpdate_ReportsCreatedOnlyOnFirstSet()
    {
        var first = (await ApplyAsync("c", Set("item", "1")))[0];
        var second = (await ApplyAsync("c", Set("item", "2")))[0];

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.True(second.Changed);
        Assert.True(second.Version > first.Version);
    }

    [Fact]
    public async Task Apply_SecondWriteHasStaleVersion_ThrowsWithCurrentVersionAndAppliesNothingOfTheCall()
    {
        var a = new ItemKey("a", "shared");
        var b = new ItemKey("b", "shared");
        await ApplyAsync("c", Set(a, "\"a1\""));
        var bVersion = (await ApplyAsync("c", Set(b, "\"b1\"")))[0].Version;
        await ApplyAsync("c", Set(b, "\"b2\""));
        var current = Get("c", b)!.Version;

        var error = await Assert.ThrowsAsync<VersionConflictException>(() => ApplyAsync("c", Set(a, "\"a2\""), Set(b, "\"b3\"", Expect.Version(bVersion))));

        var conflict = Assert.Single(error.Conflicts);
        Assert.Equal(b, conflict.Key);
        Assert.Equal(Expect.Version(bVersion), conflict.Expected);
        Assert.Equal(current, conflict.CurrentVersion);
        Assert.Empty(error.Applied);
        Assert.Equal("\"a1\"", Json(Get("c", a)));
        Assert.Equal(1, Get("c", a)!.Version);
        Assert.Equal("\"b2\"", Json(Get("c", b)));

        // The failed call consumed no sequence number.
        Assert.Equal(current + 1, (await ApplyAsync("c", Set(a, "\"a3\"")))[0].Version);
    }

    [Fact]
    public async Task Apply_AbsentOnExistingItem_ThrowsAndKeepsItem()
    {
        var version = (await ApplyAsync("c", Set("x", "1")))[0].Version;

        var error = await Assert.ThrowsAsync<VersionConflictException>(() => ApplyAsync("c", Set("x", "2", Expect.Absent)));

        var conflict = Assert.Single(error.Conflicts);
        Assert.Equal(Expect.Absent, conflict.Expected);
        Assert.Equal(version, conflict.CurrentVersion);
        Assert.Equal("1", Json(Get("c", "x")));
    }

    [Fact]
    public async Task Apply_ExistsOnMissingItem_ThrowsWithCurrentVersionZeroAndCreatesNothing()
    {
        var error = await Assert.ThrowsAsync<VersionConflictException>(() => ApplyAsync("c", Set("ghost", "1", Expect.Exists)));

        var conflict = Assert.Single(error.Conflicts);
        Assert.Equal(Expect.Exists, conflict.Expected);
        Assert.Equal(0, conflict.CurrentVersion);
        Assert.Null(Get("c", "ghost"));
    }

    [Fact]
    public async Task Apply_RemoveWithStaleVersion_ThrowsAndKeepsItem()
    {
        var version = (await ApplyAsync("c", Set("r", "1")))[0].Version;
        await ApplyAsync("c", Set("r", "2"));

        await Assert.ThrowsAsync<VersionConflictException>(() => ApplyAsync("c", Remove("r", Expect.Version(version))));

        Assert.Equal("2", Json(Get("c", "r")));
    }

    [Fact]
    public async Task Apply_MultiPartitionCallWithOneConflict_AppliesOtherPartitionsAndReportsConflictAndApplied()
    {
        var x = new ItemKey("x", "px");
        var y = KeyInOtherPartition("c", x);
        await ApplyAsync("c", Set(y, "\"y1\""));

        var error = await Assert.ThrowsAsync<VersionConflictException>(() => ApplyAsync("c", Set(x, "\"x1\""), Set(y, "\"y2\"", Expect.Absent)));

        var conflict = Assert.Single(error.Conflicts);
        Assert.Equal(y, conflict.Key);
        var applied = Assert.Single(error.Applied);
        Assert.Equal(x, applied.Key);
        Assert.True(applied.Created);
        Assert.Equal(applied.Version, Get("c", x)!.Version);
        Assert.Equal("\"x1\"", Json(Get("c", x)));
        Assert.Equal("\"y1\"", Json(Get("c", y)));
    }

    [Fact]
    public async Task Apply_MultiPartitionCall_ReturnsResultsInCallersOrder()
    {
        var keys = Enumerable.Range(0, 40).Select(i => new ItemKey($"k{i}")).ToArray();
        Assert.True(keys.Select(k => _partitions.GetPartitionId("c", k)).Distinct().Count() > 1);

        var results = await ApplyAsync("c", keys.Select(k => Set(k, "true")).ToArray());

        Assert.Equal(keys, results.Select(r => r.Key));
        Assert.All(results, r => Assert.True(r.Created));
    }

    [Fact]
    public async Task List_1000ItemsAcrossPartitions_PagesInIdOrderWithoutGapsOrDuplicates()
    {
        // 990 ids partitioned by themselves, written in shuffled order, plus one id under ten
        // partition keys (the listing orders those by partition key).
        var keys = Enumerable.Range(0, 990).Select(i => new ItemKey($"item-{i:D4}"))
            .Concat(Enumerable.Range(0, 10).Select(j => new ItemKey("dup", $"pk-{j}")))
            .OrderBy(_ => Random.Shared.Next())
            .ToArray();
        foreach (var chunk in keys.Chunk(100))
        {
            await ApplyAsync("listed", chunk.Select(k => Set(k, "{}")).ToArray());
        }

        await ApplyAsync("unlisted", Set("item-0001", "{}"), Set("zzz", "{}"));
        Assert.True(_partitions.Partitions.Count(p => p.Items.Count > 0) > 1, "The items must spread over several partitions.");

        var seen = new List<ListingKey>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var (items, next) = _partitions.List("listed", cursor, 37);
            Assert.InRange(items.Count, 1, 37);
            seen.AddRange(items.Select(i => i.Key));
            cursor = next;
            Assert.True(++pages <= 100, "The listing does not end.");
        }
        while (cursor is not null);

        var expected = keys.Select(k => new ListingKey(k.Id, k.PartitionKey ?? string.Empty)).Order().ToList();
        Assert.Equal(1000, seen.Count);
        Assert.Equal(expected, seen);
        Assert.Equal(28, pages);
    }

    [Fact]
    public async Task Restart_NewManagerOnSameStore_KeepsItemsAndVersionsAndNeverReusesVersions()
    {
        var a = new ItemKey("a", "p");
        var b = new ItemKey("b", "p");
        var aVersion = (await ApplyAsync("c", Set(a, "{\"v\":1}")))[0].Version;
        await ApplyAsync("c", Set(b, "2"));

        // The removal is the partition's last change: its sequence number must survive the restart.
        var removed = (await ApplyAsync("c", Remove(b)))[0];
        Assert.True(removed.Changed);
        Assert.Equal(3, removed.Version);

        await RestartAsync();

        var item = Get("c", a);
        Assert.NotNull(item);
        Assert.Equal(aVersion, item.Version);
        Assert.Equal("{\"v\":1}", Json(item));
        Assert.Null(Get("c", b));

        var recreated = (await ApplyAsync("c", Set(b, "3")))[0];
        Assert.True(recreated.Version > removed.Version, $"Version {recreated.Version} after restart reuses a number at or below {removed.Version}.");
        Assert.Equal(recreated.Version, _partitions.Partitions[_partitions.GetPartitionId("c", a)].LastSequence);

        // And again, once more without any change in between.
        await RestartAsync();
        Assert.Equal(recreated.Version, Get("c", b)!.Version);
        Assert.True((await ApplyAsync("c", Set(a, "4")))[0].Version > recreated.Version);
    }

    private async Task RestartAsync()
    {
        await _partitions.StopAsync();
        await _store.DisposeAsync();
        _store = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir));
        await _store.InitializeAsync(default);
        _partitions = new PartitionManager(_store, NullLoggerFactory.Instance);
        await _partitions.StartAsync(PartitionCount, default);
    }

    private Task<IReadOnlyList<WriteResult>> ApplyAsync(string component, params ItemWriteData[] writes) =>
        _partitions.ApplyAsync(component, writes, SafetyLevel.Applied, default).WaitAsync(Deadline);

    private JsonItem? Get(string component, ItemKey key) => _partitions.Get(component, key);

    private ItemKey KeyInOtherPartition(string component, ItemKey key)
    {
        var partition = _partitions.GetPartitionId(component, key);
        for (var i = 0; ; i++)
        {
            var candidate = new ItemKey($"other-{i}");
            if (_partitions.GetPartitionId(component, candidate) != partition)
            {
                return candidate;
            }
        }
    }

    private static ItemWriteData Set(ItemKey key, string json, Expect expect = default) => new(key, Encoding.UTF8.GetBytes(json), expect);

    private static ItemWriteData Remove(ItemKey key, Expect expect = default) => new(key, null, expect);

    private static string? Json(JsonItem? state) => state is null ? null : Encoding.UTF8.GetString(state.Json);
}
