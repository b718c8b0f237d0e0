using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>A cursor older than the log retains is refused (410), never silently skipped.</summary>
public sealed class WatchRetentionTests
{
    [Fact]
    public async Task Watch_CursorOlderThanRetention_Returns410Problem()
    {
        using var dataDir = new TempDirectory("or-watch-");
        await using var silo = await InProcessSilo.StartAsync(dataDir.Path, new Dictionary<string, string?>
        {
            ["Silo:PartitionCount"] = "1",
            ["Silo:Replication:LogRetainedChanges"] = "10",
        });
        string cursor;
        await using (var stream = await SseStream.OpenAsync(silo.Http, "v1/components/watch-old/watch"))
        {
            cursor = (await stream.ReadAsync())?.Id ?? throw new InvalidOperationException("no snapshot-end");
        }

        // Durable: only persisted changes are evicted. 100 is past the 4x a lingering pin may hold.
        var changes = Enumerable.Range(0, 100).Select(i => new { id = "i" + i, value = i });
        using (var written = await silo.Http.PostAsJsonAsync("v1/components/watch-old/batch?safety=durable", new { changes }))
        {
            written.EnsureSuccessStatusCode();
        }

        using var response = await silo.Http.GetAsync($"v1/components/watch-old/watch?cursor={cursor}");

        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith("cursor-expired", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WatchAsync_CursorOlderThanRetention_ThrowsCursorExpired()
    {
        using var dataDir = new TempDirectory("or-watch-");
        await using var silo = await InProcessSilo.StartAsync(dataDir.Path, new Dictionary<string, string?>
        {
            ["Silo:PartitionCount"] = "1",
            ["Silo:Replication:LogRetainedChanges"] = "10",
        });
        await using var client = await ReplicationClient.ConnectAsync(new ReplicationClientOptions { Gateways = [silo.GatewayEndPoint.ToString()] });
        var items = client.GetReplicator<int>("watch-old");
        string? cursor = null;
        await foreach (var change in items.WatchAsync())
        {
            cursor = change.Cursor;
            break;
        }

        await items.SetStateItemsAsync(Enumerable.Range(0, 100).Select(i => KeyValuePair.Create(new ItemKey("i" + i), i)), new WriteOptions { Safety = SafetyLevel.Durable });

        await Assert.ThrowsAsync<CursorExpiredException>(async () =>
        {
            await foreach (var change in items.WatchAsync(cursor: cursor))
            {
                _ = change;
            }
        });
    }
}
