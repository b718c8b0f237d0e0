using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary><c>POST /v1/cluster/silos/{silo}/drain</c> refuses what names no silo of the cluster, with typed problems (and drains nothing).</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class DrainRequestTests(OrleansClusterFixture fixture)
{
    [Fact]
    public async Task Drain_UnknownMalformedOrWrongMethod_TypedProblems()
    {
        var http = fixture.Cluster.Silos[0].Http;

        using var unknown = await http.PostAsync("v1/cluster/silos/no-such-silo/drain", null);
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound, "not-found");

        using var unknownIncarnation = await http.PostAsync("v1/cluster/silos/no-such-silo@123/drain", null);
        await AssertProblemAsync(unknownIncarnation, HttpStatusCode.NotFound, "not-found");

        using var malformed = await http.PostAsync("v1/cluster/silos/silo-a@not-a-number/drain", null);
        await AssertProblemAsync(malformed, HttpStatusCode.BadRequest, "invalid-request");

        using var spaces = await http.PostAsync("v1/cluster/silos/silo%20a/drain", null);
        await AssertProblemAsync(spaces, HttpStatusCode.BadRequest, "invalid-request");

        using var tooLong = await http.PostAsync($"v1/cluster/silos/{new string('s', 600)}/drain", null);
        await AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, "invalid-request");

        using var wrongMethod = await http.GetAsync("v1/cluster/silos/no-such-silo/drain");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith("#" + type, problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }
}
