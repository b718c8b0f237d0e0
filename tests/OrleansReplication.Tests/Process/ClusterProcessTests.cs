using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>Three real silo processes sharing one SQLite file form one cluster; one is SIGKILLed.</summary>
public sealed class ClusterProcessTests : IDisposable
{
    private const int Partitions = 8;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dataDir = new("or-proc-cluster-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task ThreeSiloProcesses_SharedStore_BalancedInSyncAtLagZeroAndRecoverFromSigkill()
    {
        await using var first = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
        await using var second = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
        await using var third = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
        var silos = new Dictionary<string, SiloProcess>
        {
            [await IdOfAsync(first)] = first,
            [await IdOfAsync(second)] = second,
            [await IdOfAsync(third)] = third,
        };

        await WaitBalancedAndInSyncAsync(silos, lagZero: false);

        // Writes through any silo: those for partitions it does not lead are redirected (307).
        for (var i = 0; i < 300; i++)
        {
            using var put = await first.Http.PutAsync($"v1/components/proc-cluster/items/k{i}", new StringContent($"{{\"n\":{i}}}", Encoding.UTF8, "application/json"));
            Assert.True(put.IsSuccessStatusCode, $"PUT k{i} answered {(int)put.StatusCode}.{first.Describe()}");
        }

        await WaitBalancedAndInSyncAsync(silos, lagZero: true);

        var thirdId = silos.Single(s => s.Value == third).Key;
        await third.KillAsync();
        silos.Remove(thirdId);
        await WaitBalancedAndInSyncAsync(silos, lagZero: true);
        for (var i = 0; i < 300; i += 7)
        {
            using var get = await first.Http.GetAsync($"v1/components/proc-cluster/items/k{i}");
            Assert.True(get.IsSuccessStatusCode, $"GET k{i} after the SIGKILL answered {(int)get.StatusCode}.");
            Assert.Equal($"{{\"n\":{i}}}", await get.Content.ReadAsStringAsync());
        }
    }

    /// <summary>
    /// Every partition led by a live silo, no silo leading more than 1.5x its share, every standby
    /// on another silo and in sync as its primary sees it; with <paramref name="lagZero"/>, at the
    /// primary's last sequence.
    /// </summary>
    private static Task WaitBalancedAndInSyncAsync(Dictionary<string, SiloProcess> silos, bool lagZero) => Wait.UntilAsync(
        async () =>
        {
            var any = silos.Values.First();
            var map = await PartitionsAsync(any);
            var share = (double)Partitions / silos.Count;
            var leads = map.GroupBy(p => p.GetProperty("primary").GetString() ?? string.Empty).ToList();
            if (leads.Any(g => !silos.ContainsKey(g.Key) || g.Count() > 1.5 * share))
            {
                return false;
            }

            foreach (var group in leads)
            {
                var seen = (await PartitionsAsync(silos[group.Key])).ToDictionary(p => p.GetProperty("id").GetInt32());
                foreach (var row in group)
                {
                    var view = seen[row.GetProperty("id").GetInt32()];
                    var standbys = view.GetProperty("standbys").EnumerateArray().ToList();
                    var ok = view.GetProperty("primary").GetString() == group.Key
                        && standbys.Count > 0
                        && standbys.All(s => s.GetProperty("inSync").ValueKind == JsonValueKind.True
                            && s.GetProperty("silo").GetString() != group.Key
                            && silos.ContainsKey(s.GetProperty("silo").GetString()!)
                            && (!lagZero || s.GetProperty("appliedSequence").GetInt64() == view.GetProperty("lastSequence").GetInt64()));
                    if (!ok)
                    {
                        return false;
                    }
                }
            }

            return true;
        },
        Deadline,
        $"every partition to be led by one of [{string.Join(", ", silos.Keys)}] (at most 1.5x the share each) with in-sync standbys on other silos{(lagZero ? " at lag 0" : string.Empty)}");

    private static async Task<string> IdOfAsync(SiloProcess silo) =>
        (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!;

    private static async Task<List<JsonElement>> PartitionsAsync(SiloProcess silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];
}
