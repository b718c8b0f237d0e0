using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// Two real silos sharing one SQLite file form an Orleans cluster and replicate over Orleans
/// messaging (the replica grain service): every standby gets in sync and Applied writes succeed.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class CrossSiloReplicationTests
{
    [Fact]
    public async Task TwoSilos_EveryStandbyInSyncOverOrleansAndAppliedWritesSucceed()
    {
        using var dataDir = new TempDirectory("or-cross-");
        var settings = new Dictionary<string, string?> { ["Silo:PartitionCount"] = "4", ["Silo:SiloId"] = "a" };
        await using var a = await InProcessSilo.StartAsync(dataDir.Path, settings);
        await using var b = await InProcessSilo.StartAsync(dataDir.Path, new Dictionary<string, string?>(settings) { ["Silo:SiloId"] = "b" });

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
