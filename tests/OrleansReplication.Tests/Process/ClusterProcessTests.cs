using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>Three real silo processes sharing one SQLite file form one cluster; a standby silo is SIGKILLed.</summary>
public sealed class ClusterProcessTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dataDir = new("or-proc-cluster-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task ThreeSiloProcesses_SharedStore_StandbysInSyncAtLagZeroAndKilledStandbyReplaced()
    {
        await using var first = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
        await using var second = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
        await using var third = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
        var thirdId = await IdOfAsync(third);

        await Wait.UntilAsync(async () => (await ActiveAsync(first)).Count == 3, Deadline, $"the first silo to see three active silos.{first.Describe()}");
        await WaitStandbysInSyncAsync(first, excluding: null);

        for (var i = 0; i < 300; i++)
        {
            using var put = await first.Http.PutAsync($"v1/components/proc-cluster/items/k{i}", new StringContent($"{{\"n\":{i}}}", Encoding.UTF8, "application/json"));
            Assert.True(put.IsSuccessStatusCode, $"PUT k{i} answered {(int)put.StatusCode}.{first.Describe()}");
        }

        // Once writes stop, every standby reaches the primary's last sequence: lag 0.
        await Wait.UntilAsync(
            async () => (await PartitionsAsync(first)).All(p => p.GetProperty("standbys").EnumerateArray()
                .All(s => s.GetProperty("appliedSequence").GetInt64() == p.GetProperty("lastSequence").GetInt64())),
            Deadline,
            "every standby to reach its primary's last sequence");

        await third.KillAsync();
        await Wait.UntilAsync(async () => !(await ActiveAsync(first)).Contains(thirdId), Deadline, "the killed silo to be declared dead");
        await WaitStandbysInSyncAsync(first, excluding: thirdId);
    }

    private static async Task WaitStandbysInSyncAsync(SiloProcess primary, string? excluding) => await Wait.UntilAsync(
        async () => (await PartitionsAsync(primary)).All(p =>
        {
            var standbys = p.GetProperty("standbys").EnumerateArray().ToList();
            return standbys.Count > 0
                && standbys.All(s => s.GetProperty("inSync").ValueKind == JsonValueKind.True
                    && s.GetProperty("silo").GetString() != p.GetProperty("primary").GetString()
                    && s.GetProperty("silo").GetString() != excluding);
        }),
        Deadline,
        $"every partition to have an in-sync standby on another live silo.{primary.Describe()}");

    private static async Task<string> IdOfAsync(SiloProcess silo) =>
        (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!;

    private static async Task<List<string>> ActiveAsync(SiloProcess silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()
            .Where(s => s.GetProperty("status").GetString() == "active").Select(s => s.GetProperty("id").GetString()!)];

    private static async Task<List<JsonElement>> PartitionsAsync(SiloProcess silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];
}
