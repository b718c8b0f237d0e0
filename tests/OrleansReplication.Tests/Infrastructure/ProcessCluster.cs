using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>Real silo processes sharing one SQLite file, keyed by the silo id each reports, and the views of the cluster they serve.</summary>
public static class ProcessCluster
{
    /// <summary>Starts <paramref name="count"/> silos on <paramref name="dataDir"/>, one after the other; the caller disposes them.</summary>
    public static async Task<Dictionary<string, SiloProcess>> StartAsync(string dataDir, int count, params string[] arguments)
    {
        var silos = new Dictionary<string, SiloProcess>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var silo = await SiloProcess.StartAsync(dataDir, arguments);
                silos[await IdOfAsync(silo)] = silo;
            }

            return silos;
        }
        catch
        {
            foreach (var silo in silos.Values)
            {
                await silo.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>The silo's id, as the partition map names primaries and standbys.</summary>
    public static async Task<string> IdOfAsync(SiloProcess silo) =>
        (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!;

    /// <summary>The partition rows as <paramref name="silo"/> sees them (<c>GET /v1/cluster/partitions</c>).</summary>
    public static async Task<List<JsonElement>> PartitionsAsync(SiloProcess silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];
}
