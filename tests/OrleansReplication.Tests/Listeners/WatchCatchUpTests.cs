using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A cursor from before a partition's history restarted (here: the silo stopped and loaded its
/// partitions from the store, so their logs start after the cursor) resumes with a catch-up: each
/// item changed since the cursor once, at its current version, marked <c>catchUp</c> (SSE) and
/// <see cref="StateChange{TItem}.CatchUp"/> (.NET), then live changes unmarked. Each item carries
/// a cursor that resumes right after it.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class WatchCatchUpTests : IDisposable
{
    private const string Component = "catch-up";
    private static readonly WriteOptions Durable = new() { Safety = SafetyLevel.Durable };
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dataDir = new("or-catchup-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task CursorFromBeforeARestart_ChangedItemsArriveOnceAsCatchUp_ThenLiveChangesUnmarked()
    {
        string cursor;
        await using (var silo = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "4"))
        {
            await using var client = (await ProcessCluster.ConnectClientsAsync([silo], 1, RequestTimeout))[0];
            var items = client.GetReplicator<int>(Component);
            await items.SetStateItemsAsync([Item("a", 1), Item("b", 1), Item("c", 1)], Durable);
            cursor = await SnapshotCursorAsync(silo.Http);

            // After the cursor: a set twice, b removed, d created; c untouched.
            await items.SetStateItemsAsync([Item("a", 2)], Durable);
            await items.SetStateItemsAsync([Item("a", 3), Item("d", 1)], Durable);
            await items.RemoveStateItemsAsync([new ItemKey("b")], Durable);
            Assert.Equal(0, await silo.StopAsync());
        }

        await using var restarted = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "4");
        await using var again = (await ProcessCluster.ConnectClientsAsync([restarted], 1, RequestTimeout))[0];
        var replicator = again.GetReplicator<int>(Component);
        var current = await replicator.GetAllStateItemsAsync().ToListAsync();

        // SSE: a and d at their current versions, marked; b's removal is not replayed; c is not sent.
        await using (var stream = await SseStream.OpenAsync(restarted.Http, $"v1/components/{Component}/watch?cursor={Uri.EscapeDataString(cursor)}"))
        {
            var caughtUp = new Dictionary<string, (int Value, long Version)>();
            while (caughtUp.Count < 2)
            {
                var e = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended during its catch-up.");
                Assert.Equal("set", e.Type);
                Assert.True(e.Data.GetProperty("catchUp").GetBoolean(), $"A catch-up event without catchUp: {e.Data}");
                Assert.NotNull(e.Id);
                caughtUp.Add(e.Data.GetProperty("id").GetString()!, (e.Data.GetProperty("value").GetInt32(), e.Data.GetProperty("version").GetInt64()));
            }

            Assert.Equal((3, current.Single(i => i.Key.Id == "a").Version), caughtUp["a"]);
            Assert.Equal((1, current.Single(i => i.Key.Id == "d").Version), caughtUp["d"]);

            await replicator.SetStateItemsAsync([Item("e", 1)], Durable);
            var live = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended before the live change.");
            Assert.Equal("e", live.Data.GetProperty("id").GetString());
            Assert.False(live.Data.TryGetProperty("catchUp", out _), $"A live change marked as catch-up: {live.Data}");
        }

        // .NET: the same from the same cursor (e is now part of the catch-up too).
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<StateChange<int>>();
        await foreach (var change in replicator.WatchAsync(cursor: cursor, cancellationToken: stop.Token))
        {
            seen.Add(change);
            if (seen.Count == 3)
            {
                await replicator.SetStateItemsAsync([Item("f", 1)], Durable);
            }
            else if (seen.Count == 4)
            {
                break;
            }
        }

        Assert.Equal(["a", "d", "e"], seen.Take(3).Select(c => c.Key.Id).Order());
        Assert.All(seen.Take(3), c => Assert.True(c.CatchUp && c.Kind == StateChangeKind.Set && c.Cursor is not null, $"{c}"));
        Assert.Equal(3, seen.Single(c => c.Key.Id == "a").Value);
        Assert.Equal("f", seen[3].Key.Id);
        Assert.False(seen[3].CatchUp);

        // A stream that breaks after the catch-up's first item resumes from that item's cursor
        // right after it: the other items once, then live changes.
        string firstCursor, firstId;
        var rest = new List<string>();
        await using (var stream = await SseStream.OpenAsync(restarted.Http, $"v1/components/{Component}/watch?cursor={Uri.EscapeDataString(cursor)}"))
        {
            var first = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended during its catch-up.");
            (firstCursor, firstId) = (first.Id!, first.Data.GetProperty("id").GetString()!);
        }

        await using (var resumed = await SseStream.OpenAsync(restarted.Http, $"v1/components/{Component}/watch?cursor={Uri.EscapeDataString(firstCursor)}"))
        {
            while (rest.Count < 3)
            {
                var e = await resumed.ReadAsync() ?? throw new InvalidOperationException("The resumed watch ended.");
                Assert.True(e.Data.GetProperty("catchUp").GetBoolean(), $"Not a catch-up: {e.Data}");
                rest.Add(e.Data.GetProperty("id").GetString()!);
            }

            // Nothing more of the catch-up: the next event is the next live change.
            await replicator.SetStateItemsAsync([Item("g", 1)], Durable);
            var live = await resumed.ReadAsync() ?? throw new InvalidOperationException("The resumed watch ended.");
            Assert.Equal("g", live.Data.GetProperty("id").GetString());
            Assert.False(live.Data.TryGetProperty("catchUp", out _), $"{live.Data}");
        }

        Assert.Equal(new[] { "a", "d", "e", "f" }.Where(id => id != firstId), rest.Order());
    }

    private static KeyValuePair<ItemKey, int> Item(string id, int value) => KeyValuePair.Create(new ItemKey(id), value);

    private static async Task<string> SnapshotCursorAsync(HttpClient http)
    {
        await using var stream = await SseStream.OpenAsync(http, $"v1/components/{Component}/watch");
        SseEvent e;
        while ((e = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended in its snapshot.")).Type != "snapshot-end")
        {
        }

        return e.Id ?? throw new InvalidOperationException("snapshot-end carried no cursor.");
    }
}
