using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// <c>GET /v1/components/{component}/watch</c> against a real silo: a late joiner gets the snapshot
/// and then every change in per-key order; a resumed listener misses nothing and sees nothing twice.
/// </summary>
public sealed class WatchSseTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    // 200 keys x 50 rounds: the 10,000 writes the late joiner arrives after.
    private const int Keys = 200;
    private const int InitialRounds = 50;
    private const int LaterRounds = 20;

    private HttpClient Http => fixture.Silo.Http;

    [Fact]
    public async Task Watch_JoinAfter10000Writes_ReceivesSnapshotThenEveryLaterChangeInPerKeyOrder()
    {
        const string component = "watch-late";
        await WriteRoundsAsync(Http, component, 0, InitialRounds);
        var order = new PerKeyOrder();

        await using var stream = await SseStream.OpenAsync(Http, $"v1/components/{component}/watch");
        await ReadSnapshotAsync(stream, order);
        var writer = WriteRoundsAsync(Http, component, InitialRounds, LaterRounds);
        await ReadLiveUntilAsync(stream, order, InitialRounds + LaterRounds - 1);
        await writer;

        Assert.Equal(Keys, order.Count);
        Assert.True(order.LiveEvents > 0, "no live change was seen after the snapshot");
    }

    [Fact]
    public async Task Watch_ResumeFromLastCursor_MissesNothingAndReceivesNothingTwice()
    {
        const string component = "watch-resume";
        await WriteRoundsAsync(Http, component, 0, InitialRounds);
        var order = new PerKeyOrder();
        var writer = WriteRoundsAsync(Http, component, InitialRounds, LaterRounds);

        string? cursor;
        await using (var first = await SseStream.OpenAsync(Http, $"v1/components/{component}/watch"))
        {
            cursor = await ReadSnapshotAsync(first, order);
            for (var i = 0; i < 500; i++)
            {
                var e = await first.ReadAsync() ?? throw new InvalidOperationException("The watch ended early.");
                order.Live(e);
                cursor = e.Id;
            }
        }

        // Half by Last-Event-ID, as a browser's EventSource resumes; the cursor query works the same.
        await using (var second = await SseStream.OpenAsync(Http, $"v1/components/{component}/watch", cursor))
        {
            await ReadLiveUntilAsync(second, order, InitialRounds + LaterRounds - 1);
        }

        await writer;
        Assert.Equal(Keys, order.Count);
    }

    [Fact]
    public async Task Watch_Prefix_DeliversOnlyMatchingIds()
    {
        const string component = "watch-prefix";
        await PutAsync(component, "a-1", "1");
        await PutAsync(component, "b-1", "1");

        await using var stream = await SseStream.OpenAsync(Http, $"v1/components/{component}/watch?prefix=a-");
        var snapshot = await ReadEventAsync(stream);
        var end = await ReadEventAsync(stream);
        await PutAsync(component, "b-2", "2");
        await PutAsync(component, "a-2", "2");
        var live = await ReadEventAsync(stream);

        Assert.Equal(("set", "a-1"), (snapshot.Type, snapshot.Data.GetProperty("id").GetString()));
        Assert.Equal("snapshot-end", end.Type);
        Assert.Equal(("set", "a-2"), (live.Type, live.Data.GetProperty("id").GetString()));
        Assert.Equal(2, live.Data.GetProperty("value").GetInt32());
    }

    [Fact]
    public async Task Watch_Remove_DeliversRemoveEventWithCursor()
    {
        const string component = "watch-remove";
        await PutAsync(component, "x", "1");
        await using var stream = await SseStream.OpenAsync(Http, $"v1/components/{component}/watch");
        await ReadEventAsync(stream);
        await ReadEventAsync(stream);

        using var deleted = await Http.DeleteAsync($"v1/components/{component}/items/x");
        var removed = await ReadEventAsync(stream);

        Assert.Equal("remove", removed.Type);
        Assert.Equal("x", removed.Data.GetProperty("id").GetString());
        Assert.False(removed.Data.TryGetProperty("value", out _));
        Assert.False(string.IsNullOrEmpty(removed.Id));
    }

    [Theory]
    [InlineData("v1/components/watch-bad/watch?cursor=not*base64")]
    [InlineData("v1/components/watch-bad/watch?cursor=AQE")]
    [InlineData("v1/components/bad%20name!/watch")]
    public async Task Watch_InvalidCursorOrComponent_Returns400Problem(string url)
    {
        using var response = await Http.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    internal static async Task WriteRoundsAsync(HttpClient http, string component, int firstRound, int rounds)
    {
        for (var round = firstRound; round < firstRound + rounds; round++)
        {
            var changes = Enumerable.Range(0, Keys).Select(k => new { id = Key(k), value = new { n = round } });
            using var response = await http.PostAsJsonAsync($"v1/components/{component}/batch", new { changes });
            response.EnsureSuccessStatusCode();
        }
    }

    internal static async Task<string> ReadSnapshotAsync(SseStream stream, PerKeyOrder order)
    {
        while (true)
        {
            var e = await ReadEventAsync(stream);
            if (e.Type == "snapshot-end")
            {
                return e.Id ?? throw new InvalidOperationException("snapshot-end carried no cursor.");
            }

            Assert.Equal("set", e.Type);
            Assert.Null(e.Id);
            order.Snapshot(e);
        }
    }

    internal static async Task ReadLiveUntilAsync(SseStream stream, PerKeyOrder order, int lastRound)
    {
        while (!order.AllReached(lastRound))
        {
            order.Live(await ReadEventAsync(stream));
        }
    }

    private static async Task<SseEvent> ReadEventAsync(SseStream stream) =>
        await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended early.");

    private static string Key(int k) => "k" + k.ToString("D3", CultureInfo.InvariantCulture);

    private async Task PutAsync(string component, string id, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PutAsync($"v1/components/{component}/items/{id}", content);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Checks that each key's changes arrive in order with no gap and no repeat: its round number goes up by exactly one per change.</summary>
    internal sealed class PerKeyOrder
    {
        private readonly Dictionary<string, (long Version, int Round)> _last = [];

        public int Count => _last.Count;

        public int LiveEvents { get; private set; }

        public void Snapshot(SseEvent e)
        {
            var id = e.Data.GetProperty("id").GetString()!;
            Assert.True(_last.TryAdd(id, (e.Data.GetProperty("version").GetInt64(), e.Data.GetProperty("value").GetProperty("n").GetInt32())), $"{id} appeared twice in the snapshot");
        }

        public void Live(SseEvent e)
        {
            Assert.Equal("set", e.Type);
            Assert.False(string.IsNullOrEmpty(e.Id), "a live event carried no cursor");
            var id = e.Data.GetProperty("id").GetString()!;
            var version = e.Data.GetProperty("version").GetInt64();
            var round = e.Data.GetProperty("value").GetProperty("n").GetInt32();
            var last = _last[id];
            Assert.True(version > last.Version, $"{id}: version {version} after {last.Version} (out of order or repeated)");
            Assert.True(round == last.Round + 1, $"{id}: round {round} after {last.Round} (a gap or a repeat)");
            _last[id] = (version, round);
            LiveEvents++;
        }

        public bool AllReached(int round) => _last.Count == Keys && _last.Values.All(v => v.Round == round);
    }
}
