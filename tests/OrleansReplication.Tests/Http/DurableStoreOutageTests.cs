using System.Diagnostics;
using System.Net;
using System.Text;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary>
/// A <c>Durable</c> write while the store (a real PostgreSQL) is down: a 503 problem with
/// Retry-After within <c>Replication:DurableWriteTimeout</c>, not a hang; the silo keeps serving
/// writes that need no store; once the store is back, the same request with its Idempotency-Key
/// resolves the write, applied once.
/// </summary>
public sealed class DurableStoreOutageTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>, IDisposable
{
    private static readonly TimeSpan DurableWriteTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dataDir = new("or-durable-outage-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task DurableWrite_StoreDown_503WithRetryAfterWithinTheDeadline_SameKeyResolvesItOnceTheStoreIsBack()
    {
        await using var silo = await InProcessSilo.StartAsync(_dataDir.Path, new Dictionary<string, string?>
        {
            ["Silo:Storage"] = "postgres",
            ["Silo:ConnectionString"] = await postgres.CreateDatabaseAsync(),
            ["Silo:Replication:DurableWriteTimeout"] = DurableWriteTimeout.ToString(),
        });
        using (var before = await PutAsync(silo.Http, "a", "durable", key: null, "0"))
        {
            Assert.Equal(HttpStatusCode.Created, before.StatusCode);
        }

        await postgres.StopAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            using var failed = await PutAsync(silo.Http, "a", "durable", "outage-1", "1");
            var problem = await HttpApiTests.AssertProblemAsync(failed, HttpStatusCode.ServiceUnavailable);
            Assert.InRange(clock.Elapsed, DurableWriteTimeout * 0.9, DurableWriteTimeout + TimeSpan.FromSeconds(10));
            Assert.EndsWith("store-unavailable", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
            Assert.Contains("idempotency id", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.NotNull(failed.Headers.RetryAfter?.Delta);

            // The silo keeps serving what needs no store.
            using var local = await PutAsync(silo.Http, "b", "local", key: null, "2");
            Assert.Equal(HttpStatusCode.Created, local.StatusCode);
        }
        finally
        {
            await postgres.StartAgainAsync();
        }

        // As a client following Retry-After would: the same request, the same key, until it is answered.
        HttpStatusCode last = default;
        string? etag = null;
        await Wait.UntilAsync(
            async () =>
            {
                using var retry = await PutAsync(silo.Http, "a", "durable", "outage-1", "1");
                last = retry.StatusCode;
                etag = retry.Headers.ETag?.Tag;
                Assert.True(retry.IsSuccessStatusCode || retry.StatusCode == HttpStatusCode.ServiceUnavailable, $"the retry was answered {retry.StatusCode}: {await retry.Content.ReadAsStringAsync()}");
                return retry.IsSuccessStatusCode;
            },
            Deadline,
            "the Durable write's retry with its Idempotency-Key to be answered once the store is back");

        using var read = await silo.Http.GetAsync("v1/components/outage/items/a");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(etag, read.Headers.ETag?.Tag);
        Assert.Equal("1", await read.Content.ReadAsStringAsync());

        // Applied once: version 2 (the write before the outage was 1), and a further retry changes nothing.
        Assert.Equal("\"2\"", etag);
        using var again = await PutAsync(silo.Http, "a", "durable", "outage-1", "1");
        Assert.Equal(etag, again.Headers.ETag?.Tag);
        Assert.True(last is HttpStatusCode.OK or HttpStatusCode.Created, $"last answer {last}");
    }

    private static Task<HttpResponseMessage> PutAsync(HttpClient http, string id, string safety, string? key, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"v1/components/outage/items/{id}?safety={safety}") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return http.SendAsync(request);
    }
}
