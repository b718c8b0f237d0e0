using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>Three real silo processes sharing one SQLite file form one cluster; one is SIGKILLed.</summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ClusterProcessTests : IDisposable
{
    private const int Partitions = 8;
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
            [first.SiloId] = first,
            [second.SiloId] = second,
            [third.SiloId] = third,
        };

        await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);

        // Writes through any silo: those for partitions it does not lead are redirected (307).
        for (var i = 0; i < 300; i++)
        {
            using var put = await first.Http.PutAsync($"v1/components/proc-cluster/items/k{i}", new StringContent($"{{\"n\":{i}}}", Encoding.UTF8, "application/json"));
            Assert.True(put.IsSuccessStatusCode, $"PUT k{i} answered {(int)put.StatusCode}.{first.Describe()}");
        }

        await BalancedCluster.WaitAsync(silos, Partitions, lagZero: true);

        var thirdId = silos.Single(s => s.Value == third).Key;
        await third.KillAsync();
        silos.Remove(thirdId);
        await BalancedCluster.WaitAsync(silos, Partitions, lagZero: true);
        for (var i = 0; i < 300; i += 7)
        {
            using var get = await first.Http.GetAsync($"v1/components/proc-cluster/items/k{i}");
            Assert.True(get.IsSuccessStatusCode, $"GET k{i} after the SIGKILL answered {(int)get.StatusCode}.");
            Assert.Equal($"{{\"n\":{i}}}", await get.Content.ReadAsStringAsync());
        }
    }
}
