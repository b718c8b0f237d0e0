using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary>The <c>Idempotency-Key</c> header on HTTP writes: a replay answers the first attempt's result and applies nothing; a bad key is a 400.</summary>
public sealed class IdempotencyKeyTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private HttpClient Http => fixture.Silo.Http;

    [Fact]
    public async Task Put_SameKeyTwice_SecondAnswersTheFirstResultAndChangesNothing()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await SendAsync(HttpMethod.Put, "v1/components/idem-put/items/a", key, "{\"n\":1}");
        using var retry = await SendAsync(HttpMethod.Put, "v1/components/idem-put/items/a", key, "{\"n\":1}");
        using var get = await Http.GetAsync("v1/components/idem-put/items/a");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(first.Headers.ETag, retry.Headers.ETag);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.ETag, get.Headers.ETag);

        // Without the key (or with another), the same PUT is a new write.
        using var fresh = await SendAsync(HttpMethod.Put, "v1/components/idem-put/items/a", Guid.NewGuid().ToString(), "{\"n\":1}");
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.NotEqual(first.Headers.ETag, fresh.Headers.ETag);
    }

    [Fact]
    public async Task Delete_SameKeyTwice_BothAnswer204()
    {
        using var put = await SendAsync(HttpMethod.Put, "v1/components/idem-delete/items/a", null, "1");
        var key = Guid.NewGuid().ToString();

        using var first = await SendAsync(HttpMethod.Delete, "v1/components/idem-delete/items/a", key, null);
        using var retry = await SendAsync(HttpMethod.Delete, "v1/components/idem-delete/items/a", key, null);
        using var plain = await SendAsync(HttpMethod.Delete, "v1/components/idem-delete/items/a", null, null);

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
    }

    [Fact]
    public async Task Batch_AcrossPartitions_ReplayAnswersTheSameResultsAndAppliesNothing()
    {
        var key = Guid.NewGuid().ToString();
        var changes = string.Join(",", Enumerable.Range(0, 20).Select(i => $"{{\"id\":\"k{i}\",\"value\":{i}}}"));
        var body = $"{{\"changes\":[{changes}]}}";

        using var first = await SendAsync(HttpMethod.Post, "v1/components/idem-batch/batch", key, body);
        var before = await VersionsAsync();
        using var retry = await SendAsync(HttpMethod.Post, "v1/components/idem-batch/batch", key, body);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(before, await VersionsAsync());
        Assert.True((await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().All(r => r.GetProperty("created").GetBoolean()));
    }

    [Fact]
    public async Task SameKeyWithAnotherBody_422AndNothingApplied()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await SendAsync(HttpMethod.Put, "v1/components/idem-body/items/a", key, "{\"n\":1}");

        using var reused = await SendAsync(HttpMethod.Put, "v1/components/idem-body/items/a", key, "{\"n\":2}");
        using var reusedBatch = await SendAsync(HttpMethod.Post, "v1/components/idem-body/batch", key, "{\"changes\":[{\"id\":\"a\",\"value\":3}]}");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var problem = await HttpApiTests.AssertProblemAsync(reused, (HttpStatusCode)422);
        Assert.Contains("Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("idempotency-key-reused", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        await HttpApiTests.AssertProblemAsync(reusedBatch, (HttpStatusCode)422);
        using var get = await Http.GetAsync("v1/components/idem-body/items/a");
        Assert.Equal("{\"n\":1}", await get.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.ETag, get.Headers.ETag);
    }

    // Partitions keep their own requests: a reused key is caught when the items share a partition (here, a partition key).
    [Fact]
    public async Task SameKeyForAnotherItemOfThePartition_422AndNothingApplied()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await SendAsync(HttpMethod.Put, "v1/components/idem-reuse/items/a?pk=g", key, "1");

        using var reused = await SendAsync(HttpMethod.Put, "v1/components/idem-reuse/items/b?pk=g", key, "1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var problem = await HttpApiTests.AssertProblemAsync(reused, (HttpStatusCode)422);
        Assert.Contains("already used", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var get = await Http.GetAsync("v1/components/idem-reuse/items/b?pk=g");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("x", 201)]
    public async Task BadKey_400ProblemNamingTheHeader(string key, int repeat = 1)
    {
        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Delete })
        {
            using var response = await SendAsync(method, "v1/components/idem-bad/items/a", string.Concat(Enumerable.Repeat(key, repeat)), method == HttpMethod.Put ? "1" : null);

            var problem = await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Contains("Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var batch = await SendAsync(HttpMethod.Post, "v1/components/idem-bad/batch", string.Concat(Enumerable.Repeat(key, repeat)), "{\"changes\":[{\"id\":\"a\",\"value\":1}]}");
        await HttpApiTests.AssertProblemAsync(batch, HttpStatusCode.BadRequest);
        using var get = await Http.GetAsync("v1/components/idem-bad/items/a");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task TwoKeys_400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/components/idem-two/items/a") { Content = new StringContent("1", Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", ["k1", "k2"]);

        using var response = await Http.SendAsync(request);

        await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, string? json)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        if (key is not null)
        {
            Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", key));
        }

        return await Http.SendAsync(request);
    }

    private async Task<List<long>> VersionsAsync()
    {
        var page = await Http.GetFromJsonAsync<JsonElement>("v1/components/idem-batch/items?limit=100");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("version").GetInt64())];
    }
}
