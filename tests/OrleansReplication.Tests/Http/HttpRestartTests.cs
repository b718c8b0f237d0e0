using System.Net;
using System.Text;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary>A silo stopped and started again on the same data directory serves the same items at the same versions.</summary>
public sealed class HttpRestartTests : IDisposable
{
    private readonly TempDirectory _dataDir = new("or-restart-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task Restart_SameDataDir_ItemStillThereWithSameETag()
    {
        const string json = "{\"kept\":[1,2,3]}";
        var settings = new Dictionary<string, string?> { ["Silo:PartitionCount"] = "8" };
        string? etag;
        await using (var first = await InProcessSilo.StartAsync(_dataDir.Path, settings))
        {
            using var put = await first.Http.PutAsync("v1/components/restart/items/a", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            etag = put.Headers.ETag?.ToString();
            Assert.NotNull(etag);
            await first.StopAsync();
        }

        await using var second = await InProcessSilo.StartAsync(_dataDir.Path, settings);
        using var get = await second.Http.GetAsync("v1/components/restart/items/a");

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(json, await get.Content.ReadAsStringAsync());
        Assert.Equal(etag, get.Headers.ETag?.ToString());

        using var update = await second.Http.PutAsync("v1/components/restart/items/a", new StringContent("2", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.NotEqual(etag, update.Headers.ETag?.ToString());
    }
}
