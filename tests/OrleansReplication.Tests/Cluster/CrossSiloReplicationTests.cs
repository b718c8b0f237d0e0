using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// Two real silos replicating over Orleans messaging. Interim: until the SQLite clustering lands,
/// the silos form an Orleans cluster with Orleans' development clustering (the first silo holds
/// the membership table), configured here only; production clustering is not touched.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class CrossSiloReplicationTests
{
    [Fact]
    public async Task TwoSilos_EveryStandbyInSyncOverOrleansAndAppliedWritesSucceed()
    {
        using var dataDir = new TempDirectory("or-cross-");
        var settings = new Dictionary<string, string?> { ["Silo:PartitionCount"] = "4", ["Silo:SiloId"] = "a" };
        IPEndPoint? primary = null;
        void Clustering(WebApplicationBuilder builder)
        {
            var port = int.Parse(builder.Configuration["Silo:SiloPort"]!, CultureInfo.InvariantCulture);
            var self = new IPEndPoint(IPAddress.Loopback, port);
            builder.UseOrleans(silo => silo.UseDevelopmentClustering(primary ?? self));
            builder.Services.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = IPAddress.Loopback;
                o.SiloPort = port;
                o.SiloListeningEndpoint = self;
            });
        }

        await using var a = await InProcessSilo.StartAsync(dataDir.Path, settings, Clustering);
        primary = a.SiloEndPoint;
        await using var b = await InProcessSilo.StartAsync(dataDir.Path, new Dictionary<string, string?>(settings) { ["Silo:SiloId"] = "b" }, Clustering);

        await Wait.UntilAsync(async () => await AllStandbysInSyncAsync(a, b), TimeSpan.FromSeconds(60), "every partition to have an in-sync standby on the other silo");
        for (var i = 0; i < 20; i++)
        {
            // Each silo takes the writes of the partitions it leads.
            var response = await a.Http.PutAsJsonAsync($"v1/components/c/items/k{i}?safety=Applied", new { i });
            if (!response.IsSuccessStatusCode)
            {
                response = await b.Http.PutAsJsonAsync($"v1/components/c/items/k{i}?safety=Applied", new { i });
            }

            Assert.True(response.IsSuccessStatusCode, $"write {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task<bool> AllStandbysInSyncAsync(params InProcessSilo[] silos)
    {
        var inSync = 0;
        foreach (var silo in silos)
        {
            var view = await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions");
            foreach (var partition in view.GetProperty("partitions").EnumerateArray())
            {
                if (!partition.TryGetProperty("standbys", out var standbys))
                {
                    continue;
                }

                // Only the primary reports its standbys' progress (null fields are left out).
                foreach (var standby in standbys.EnumerateArray())
                {
                    if (standby.TryGetProperty("inSync", out var flag) && flag.ValueKind == JsonValueKind.True)
                    {
                        inSync++;
                    }
                }
            }
        }

        return inSync >= 4;
    }
}
