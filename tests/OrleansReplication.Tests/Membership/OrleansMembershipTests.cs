using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Membership;

/// <summary>
/// Placement's view of the cluster comes from Orleans' membership and silo metadata: every silo
/// sees every other with its endpoints and attributes.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class OrleansMembershipTests(OrleansClusterFixture fixture)
{
    [Fact]
    public async Task ThreeSilos_EachSeesEveryOneActiveWithItsOrleansAddressAndEndpoints()
    {
        var silos = fixture.Cluster.Silos;
        foreach (var silo in silos)
        {
            var view = (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray().ToList();
            Assert.Equal(3, view.Count(s => s.GetProperty("status").GetString() == "active"));
            foreach (var other in silos)
            {
                var row = Assert.Single(view, s => s.GetProperty("httpEndpoint").GetString() == $"http://127.0.0.1:{other.HttpPort}");
                Assert.Equal("zone-a", row.GetProperty("zone").GetString());
                Assert.Equal(other.GatewayEndPoint.ToString(), row.GetProperty("gatewayEndpoint").GetString());
                Assert.EndsWith(":" + other.SiloEndPoint.Port + "@" + row.GetProperty("id").GetString()!.Split('@')[1], row.GetProperty("orleansAddress").GetString(), StringComparison.Ordinal);
            }
        }
    }
}
