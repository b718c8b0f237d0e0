using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary><c>POST /v1/cluster/partitions[/{id}]/verify</c>: anti-entropy on demand, and a clear problem for a partition that does not exist.</summary>
public sealed class AntiEntropyEndpointsTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private HttpClient Http => fixture.Silo.Http;

    [Theory]
    [InlineData("16")]
    [InlineData("-1")]
    [InlineData("x")]
    [InlineData("99999999999999999999")]
    public async Task VerifyPartition_NoSuchPartition_404Problem(string id)
    {
        using var response = await Http.PostAsync($"v1/cluster/partitions/{id}/verify", null);

        var problem = await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("16 partitions", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task VerifyPartition_StoreNotABoolean_400Problem()
    {
        using var one = await Http.PostAsync("v1/cluster/partitions/0/verify?store=maybe", null);
        using var all = await Http.PostAsync("v1/cluster/partitions/verify?store=1", null);

        var problem = await HttpApiTests.AssertProblemAsync(one, HttpStatusCode.BadRequest);
        Assert.Contains("store=true", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await HttpApiTests.AssertProblemAsync(all, HttpStatusCode.BadRequest);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task VerifyPartition_WithStore_StoreComparedWithTheWarmCopy()
    {
        using (var put = await Http.PutAsync("v1/components/ae-http/items/a", new StringContent("{\"n\":1}", Encoding.UTF8, "application/json")))
        {
            put.EnsureSuccessStatusCode();
        }

        var partition = PartitionHasher.GetPartition("ae-http", "a", SiloFixture.PartitionCount);
        using var response = await Http.PostAsync($"v1/cluster/partitions/{partition}/verify?store=true", null);

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(partition, body.GetProperty("partition").GetInt32());
        Assert.Empty(body.GetProperty("standbys").EnumerateArray()); // one silo: no standby to compare
        var store = body.GetProperty("storeCheck");
        Assert.Equal("in-sync", store.GetProperty("outcome").GetString());
        Assert.Equal(0, store.GetProperty("itemsRepaired").GetInt32());
    }

    [Fact]
    public async Task VerifyAll_EveryPartitionAnswers()
    {
        using var response = await Http.PostAsync("v1/cluster/partitions/verify", null);

        response.EnsureSuccessStatusCode();
        var partitions = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, SiloFixture.PartitionCount), partitions.Select(p => p.GetProperty("partition").GetInt32()));
        Assert.All(partitions, p => Assert.False(p.TryGetProperty("error", out _)));
    }

    private async Task AssertStillServesAsync()
    {
        using var response = await Http.GetAsync("v1/cluster");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
