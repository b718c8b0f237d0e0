using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// HTTP as a newcomer uses it on a 3-silo cluster: plain requests (no redirect following) to any
/// silo serve every item, a batch over every primary applies in one call, the listing pages over
/// every partition, and every silo reports every partition's progress.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class HttpAnySiloTests(OrleansClusterFixture fixture)
{
    private const int Partitions = ReplicationCluster.PartitionCount;

    [Fact]
    public async Task AnySilo_ServesEveryItem_BatchListingAndPartitionProgress_NoRedirects()
    {
        var clients = fixture.Cluster.Silos.Select(s => new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = s.Http.BaseAddress }).ToList();
        try
        {
            var keys = Enumerable.Range(0, 30).Select(i => $"k{i:00}").ToList();

            // Each item written through one silo and read through every silo.
            for (var i = 0; i < keys.Count; i++)
            {
                using var put = await clients[i % 3].PutAsync($"v1/components/any/items/{keys[i]}", Json($"{{\"n\":{i}}}"));
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            }

            foreach (var client in clients)
            {
                foreach (var key in keys.Take(10))
                {
                    using var get = await client.GetAsync($"v1/components/any/items/{key}");
                    Assert.Equal(HttpStatusCode.OK, get.StatusCode);
                }
            }

            // A batch over every primary: one call, every item's result, in order.
            var changes = string.Join(",", keys.Select((k, i) => $"{{\"id\":\"{k}\",\"value\":{{\"n\":{i + 100}}}}}"));
            using var batch = await clients[1].PostAsync("v1/components/any/batch", Json($"{{\"changes\":[{changes}]}}"));
            Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
            var results = (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();
            Assert.Equal(keys, results);
            using (var read = await clients[2].GetAsync($"v1/components/any/items/{keys[17]}"))
            {
                Assert.Equal("{\"n\":117}", await read.Content.ReadAsStringAsync());
            }

            // The listing pages over every partition from any silo.
            foreach (var client in clients)
            {
                var listed = new List<string>();
                string? after = null;
                do
                {
                    var page = await client.GetFromJsonAsync<JsonElement>($"v1/components/any/items?limit=7" + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after)));
                    var items = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList();
                    Assert.True(items.Count <= 7);
                    listed.AddRange(items);
                    after = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetString();
                }
                while (after is not null);

                Assert.Equal(keys, listed);
            }

            // Every silo reports every partition's progress and its standbys' state, from their primaries.
            foreach (var client in clients)
            {
                var partitions = (await client.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray().ToList();
                Assert.Equal(Partitions, partitions.Count);
                Assert.All(partitions, p =>
                {
                    Assert.Equal(JsonValueKind.Number, p.GetProperty("lastSequence").ValueKind);
                    Assert.All(p.GetProperty("standbys").EnumerateArray(), s => Assert.Equal(JsonValueKind.True, s.GetProperty("inSync").ValueKind));
                });
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
