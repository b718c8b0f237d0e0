using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary>
/// The HTTP JSON API against a real in-process silo: round trips, ETags and conditions, limits
/// and bad input (each answered with problem+json, after which the silo still serves).
/// </summary>
public sealed class HttpApiTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private const string ProblemJson = "application/problem+json";

    private HttpClient Http => fixture.Silo.Http;

    [Fact]
    public async Task Put_ThenGet_RoundTripsExactJsonWithETag()
    {
        const string json = "{ \"b\" : [1, 2.50, \"x\\u00e9\"],\n  \"a\":null ,\"ü\":{}}";

        using var put = await PutAsync("http-roundtrip", "item-1", json);
        using var get = await Http.GetAsync("v1/components/http-roundtrip/items/item-1");

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var version = await VersionOfAsync(put);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("application/json", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal(json, await get.Content.ReadAsStringAsync());
        Assert.Equal($"\"{version}\"", get.Headers.ETag?.ToString());
        Assert.Equal(put.Headers.ETag, get.Headers.ETag);
    }

    [Fact]
    public async Task Put_CreateThenUpdate_Returns201Then200WithHigherVersion()
    {
        using var created = await PutAsync("http-status", "a", "1");
        using var updated = await PutAsync("http-status", "a", "2");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.True(await VersionOfAsync(updated) > await VersionOfAsync(created));
        var body = await updated.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("created").GetBoolean());
    }

    [Fact]
    public async Task Get_IfNoneMatchCurrentETag_Returns304()
    {
        using var put = await PutAsync("http-304", "a", "1");
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/components/http-304/items/a");
        request.Headers.IfNoneMatch.Add(put.Headers.ETag!);

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
    }

    [Fact]
    public async Task Put_StaleIfMatch_Returns412ProblemWithCurrentVersionAndKeepsItem()
    {
        using var first = await PutAsync("http-stale", "a", "1");
        using var second = await PutAsync("http-stale", "a", "2");
        var current = await VersionOfAsync(second);

        using var stale = await PutAsync("http-stale", "a", "3", r => r.Headers.TryAddWithoutValidation("If-Match", first.Headers.ETag!.ToString()));

        var problem = await AssertProblemAsync(stale, HttpStatusCode.PreconditionFailed);
        Assert.Equal(current, problem.GetProperty("currentVersion").GetInt64());
        Assert.Equal("2", await GetBodyAsync("http-stale", "a"));
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Put_CurrentIfMatch_Succeeds()
    {
        using var first = await PutAsync("http-match", "a", "1");

        using var next = await PutAsync("http-match", "a", "2", r => r.Headers.IfMatch.Add(first.Headers.ETag!));

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal("2", await GetBodyAsync("http-match", "a"));
    }

    [Fact]
    public async Task Put_IfNoneMatchStarOnExisting_Returns412()
    {
        using var first = await PutAsync("http-create-only", "a", "1");

        using var again = await PutAsync("http-create-only", "a", "2", r => r.Headers.TryAddWithoutValidation("If-None-Match", "*"));

        var problem = await AssertProblemAsync(again, HttpStatusCode.PreconditionFailed);
        Assert.Equal(await VersionOfAsync(first), problem.GetProperty("currentVersion").GetInt64());
        Assert.Equal("1", await GetBodyAsync("http-create-only", "a"));
    }

    [Fact]
    public async Task Put_IfMatchStarOnMissing_Returns412AndCreatesNothing()
    {
        using var response = await PutAsync("http-update-only", "ghost", "1", r => r.Headers.TryAddWithoutValidation("If-Match", "*"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.PreconditionFailed);
        Assert.Equal(0, problem.GetProperty("currentVersion").GetInt64());
        await AssertMissingAsync("http-update-only", "ghost");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("\"abc\"")]
    [InlineData("W/\"1\"")]
    [InlineData("\"0\"")]
    [InlineData("\"1\", \"2\"")]
    public async Task Put_MalformedIfMatch_Returns400(string ifMatch)
    {
        using var response = await PutAsync("http-bad-if-match", "a", "1", r => r.Headers.TryAddWithoutValidation("If-Match", ifMatch));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        await AssertMissingAsync("http-bad-if-match", "a");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Put_TwoMiBBody_Returns413Problem()
    {
        var json = "\"" + new string('a', 2 * 1024 * 1024) + "\"";

        using var response = await PutAsync("http-large", "big", json);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        await AssertMissingAsync("http-large", "big");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Put_ComponentWithSpace_Returns400()
    {
        using var response = await PutAsync("bad%20component", "a", "1");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("component", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task PutAndDelete_EmptyId_RefusedWithProblemAndNothingStored()
    {
        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Delete })
        {
            using var request = new HttpRequestMessage(method, "v1/components/http-empty-id/items/") { Content = method == HttpMethod.Put ? Json("1") : null };
            using var response = await Http.SendAsync(request);

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{method}: got {(int)response.StatusCode}: {body}");
            Assert.True(ProblemJson == response.Content.Headers.ContentType?.MediaType, $"{method}: got {(int)response.StatusCode} with content type '{response.Content.Headers.ContentType}': {body}");
        }

        using var list = await Http.GetAsync("v1/components/http-empty-id/items");
        Assert.Empty((await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Put_IdOver512Bytes_Returns400()
    {
        // 171 three-byte characters: 513 UTF-8 bytes, well under the URL limits.
        var id = new string('€', 171);

        using var response = await PutAsync("http-long-id", Uri.EscapeDataString(id), "1");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        await AssertStillServesAsync();
    }

    [Theory]
    [InlineData("{\"a\":")]
    [InlineData("")]
    [InlineData("1 2")]
    [InlineData("{'single':1}")]
    public async Task Put_InvalidJsonBody_Returns400AndStoresNothing(string body)
    {
        using var response = await PutAsync("http-bad-json", "a", body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        await AssertMissingAsync("http-bad-json", "a");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Put_UnknownSafety_Returns400()
    {
        using var response = await Http.PutAsync("v1/components/http-safety/items/a?safety=bogus", Json("1"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        await AssertMissingAsync("http-safety", "a");
        using var durable = await Http.PutAsync("v1/components/http-safety/items/a?safety=durable", Json("1"));
        Assert.Equal(HttpStatusCode.Created, durable.StatusCode);
    }

    [Fact]
    public async Task Delete_StaleIfMatchThenCurrent_Returns412Then204ThenGet404()
    {
        using var first = await PutAsync("http-delete", "a", "1");
        using var second = await PutAsync("http-delete", "a", "2");

        using var stale = new HttpRequestMessage(HttpMethod.Delete, "v1/components/http-delete/items/a");
        stale.Headers.IfMatch.Add(first.Headers.ETag!);
        using var staleResponse = await Http.SendAsync(stale);
        var problem = await AssertProblemAsync(staleResponse, HttpStatusCode.PreconditionFailed);
        Assert.Equal(await VersionOfAsync(second), problem.GetProperty("currentVersion").GetInt64());

        using var current = new HttpRequestMessage(HttpMethod.Delete, "v1/components/http-delete/items/a");
        current.Headers.IfMatch.Add(second.Headers.ETag!);
        using var deleted = await Http.SendAsync(current);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await AssertMissingAsync("http-delete", "a");

        using var again = await Http.DeleteAsync("v1/components/http-delete/items/a");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Batch_SetsAndRemovesWithExpectedVersions_AppliesAndStaleBatchReturns412WithConflicts()
    {
        using var a = await PutAsync("http-batch", "a", "1");
        using var b = await PutAsync("http-batch", "b", "1");
        var aVersion = await VersionOfAsync(a);
        var bVersion = await VersionOfAsync(b);

        using var ok = await PostBatchAsync("http-batch", $$"""
            {"changes":[
              {"id":"a","value":{"n":2},"expectedVersion":{{aVersion}}},
              {"id":"b","remove":true,"expectedVersion":{{bVersion}}},
              {"id":"c","value":[3],"expectedVersion":0}
            ]}
            """);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var results = (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["a", "b", "c"], results.Select(r => r.GetProperty("id").GetString()));
        Assert.True(results[1].GetProperty("removed").GetBoolean());
        Assert.True(results[2].GetProperty("created").GetBoolean());
        Assert.Equal("{\"n\":2}", await GetBodyAsync("http-batch", "a"));
        await AssertMissingAsync("http-batch", "b");
        Assert.Equal("[3]", await GetBodyAsync("http-batch", "c"));

        // a is no longer at aVersion, c exists: both conflict, nothing of the call is applied.
        using var stale = await PostBatchAsync("http-batch", $$"""
            {"changes":[
              {"id":"a","value":{"n":3},"expectedVersion":{{aVersion}}},
              {"id":"c","value":[4],"expectedVersion":0}
            ]}
            """);
        var problem = await AssertProblemAsync(stale, HttpStatusCode.PreconditionFailed);
        var conflicts = problem.GetProperty("conflicts").EnumerateArray().Select(c => c.GetProperty("id").GetString()).Order().ToList();
        Assert.Contains("a", conflicts);
        Assert.Equal("{\"n\":2}", await GetBodyAsync("http-batch", "a"));
        Assert.Equal("[3]", await GetBodyAsync("http-batch", "c"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"changes\":{}}")]
    [InlineData("{\"changes\":[{\"id\":\"a\"}]}")]
    [InlineData("{\"changes\":[{\"id\":\"a\",\"value\":1,\"remove\":true}]}")]
    [InlineData("{\"changes\":[{\"id\":\"\",\"value\":1}]}")]
    [InlineData("{\"changes\":[{\"value\":1}]}")]
    [InlineData("{\"changes\":[{\"id\":\"a\",\"value\":1,\"expectedVersion\":-1}]}")]
    public async Task Batch_Malformed_Returns400AndAppliesNothing(string body)
    {
        using var response = await PostBatchAsync("http-batch-bad", body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        using var list = await Http.GetAsync("v1/components/http-batch-bad/items");
        Assert.Empty((await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray());
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task List_PagedWithAfterAndLimit_WalksAllItemsInIdOrder()
    {
        var ids = Enumerable.Range(0, 45).Select(i => $"k{i * 7919 % 1000:D3}/{i}").ToList();
        foreach (var id in ids)
        {
            using var put = await PutAsync("http-list", id, $"{{\"id\":\"{id}\"}}");
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        do
        {
            var url = "v1/components/http-list/items?limit=7" + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after));
            var page = await Http.GetFromJsonAsync<JsonElement>(url);
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                var id = item.GetProperty("id").GetString()!;
                seen.Add(id);
                Assert.Equal(id, item.GetProperty("value").GetProperty("id").GetString());
                Assert.True(item.GetProperty("version").GetInt64() > 0);
            }

            after = page.GetProperty("next").GetString();
            Assert.True(++pages <= 20, "The listing does not end.");
        }
        while (after is not null);

        Assert.Equal(ids.Order(StringComparer.Ordinal), seen);
        Assert.Equal(7, pages);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=100001")]
    [InlineData("limit=abc")]
    [InlineData("limit=-5")]
    public async Task List_LimitOutOfRange_Returns400(string query)
    {
        using var response = await Http.GetAsync("v1/components/http-list-bad/items?" + query);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Cluster_Get_ReportsIdStatusAndEndpoints()
    {
        var cluster = await Http.GetFromJsonAsync<JsonElement>("v1/cluster");

        Assert.False(string.IsNullOrEmpty(cluster.GetProperty("id").GetString()));
        Assert.Equal("active", cluster.GetProperty("status").GetString());
        var endpoints = cluster.GetProperty("endpoints");
        Assert.Equal($"http://127.0.0.1:{fixture.Silo.HttpPort}", endpoints.GetProperty("http").GetString());
        Assert.Equal($"127.0.0.1:{fixture.Silo.GatewayEndPoint.Port}", endpoints.GetProperty("gateway").GetString());
        Assert.Equal($"127.0.0.1:{fixture.Silo.SiloEndPoint.Port}", endpoints.GetProperty("silo").GetString());
        Assert.Equal(SiloFixture.PartitionCount, cluster.GetProperty("partitionCount").GetInt32());
        Assert.Equal(SiloFixture.PartitionCount, cluster.GetProperty("partitionsServing").GetInt32());
    }

    [Fact]
    public async Task Health_Probes_ReportLiveAndReady()
    {
        using var live = await Http.GetAsync("healthz/live");
        using var ready = await Http.GetAsync("healthz/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    private Task<HttpResponseMessage> PutAsync(string component, string id, string json, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"v1/components/{component}/items/{id}") { Content = Json(json) };
        configure?.Invoke(request);
        return SendAndDisposeRequestAsync(request);
    }

    private Task<HttpResponseMessage> PostBatchAsync(string component, string json) =>
        SendAndDisposeRequestAsync(new HttpRequestMessage(HttpMethod.Post, $"v1/components/{component}/batch") { Content = Json(json) });

    private async Task<HttpResponseMessage> SendAndDisposeRequestAsync(HttpRequestMessage request)
    {
        using (request)
        {
            return await Http.SendAsync(request);
        }
    }

    private async Task<string> GetBodyAsync(string component, string id)
    {
        using var response = await Http.GetAsync($"v1/components/{component}/items/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private async Task AssertMissingAsync(string component, string id)
    {
        using var response = await Http.GetAsync($"v1/components/{component}/items/{id}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(ProblemJson, response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>After a refused request, a normal write and read on a fresh component still work.</summary>
    private async Task AssertStillServesAsync()
    {
        var id = Guid.NewGuid().ToString("N");
        using var put = await PutAsync("http-alive", id, "true");
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal("true", await GetBodyAsync("http-alive", id));
    }

    [Fact]
    public async Task Item_IdEscapedOrRawSlash_NamesTheSameItem()
    {
        using var put = await Http.PutAsync("v1/components/http-escape/items/a%2Fb%20c", Json("{\"n\":1}"));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);

        using var raw = await Http.GetAsync("v1/components/http-escape/items/a/b%20c");
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        Assert.Equal(put.Headers.ETag, raw.Headers.ETag);
        var page = await Http.GetFromJsonAsync<JsonElement>("v1/components/http-escape/items");
        Assert.Equal("a/b c", Assert.Single(page.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task UnknownRouteOrMethod_AnswersProblemJson()
    {
        using var unknown = await Http.GetAsync("v1/nothing-here");
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound);

        using var wrongMethod = await Http.PatchAsync("v1/components/http-method/items/x", Json("1"));
        await AssertProblemAsync(wrongMethod, HttpStatusCode.MethodNotAllowed);
        await AssertStillServesAsync();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    private static async Task<long> VersionOfAsync(HttpResponseMessage response)
    {
        var etag = response.Headers.ETag ?? throw new InvalidOperationException($"No ETag on a {(int)response.StatusCode} response: {await response.Content.ReadAsStringAsync()}");
        Assert.False(etag.IsWeak);
        return long.Parse(etag.Tag.Trim('"'), System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal(ProblemJson, response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        return problem;
    }
}
