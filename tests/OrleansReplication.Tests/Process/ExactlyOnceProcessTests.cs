using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Three silo processes; create-only writes with Idempotency-Keys; SIGKILL of the silo that leads
/// the most partitions; every write retried on the survivors answers its first result (applied
/// twice, a create-only write would fail with 412).
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ExactlyOnceProcessTests : IDisposable
{
    private const int Partitions = 8;
    private const int Items = 100;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dataDir = new("or-proc-once-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task PrimaryProcessSigkilled_RetriesWithTheSameKeys_AnswerTheFirstResultsAndApplyNothing()
    {
        var silos = new Dictionary<string, SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var silo = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8");
                silos[silo.SiloId] = silo;
            }

            await KeyedWrites.WaitEveryPartitionLedAsync([.. silos.Values], Partitions, Deadline);
            var all = silos.Values.ToList();
            var first = new KeyedWrites.Answer[Items];
            for (var i = 0; i < Items; i++)
            {
                first[i] = await PutAsync(all[i % all.Count], i);
                Assert.True(first[i].Status == HttpStatusCode.Created, $"k{i}: {(int)first[i].Status} {first[i].Body}");
            }

            var map = (await all[0].Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray();
            var busiest = map.GroupBy(p => p.GetProperty("primary").GetString()!).MaxBy(g => g.Count())!.Key;
            await silos[busiest].KillAsync();
            var survivors = silos.Where(s => s.Key != busiest).Select(s => s.Value).ToList();

            for (var i = 0; i < Items; i++)
            {
                var retry = await PutAsync(survivors[i % survivors.Count], i);
                Assert.True(retry == first[i], $"k{i}'s retry after the SIGKILL of {busiest} answered {(int)retry.Status} {retry.Body}; the first attempt answered {first[i].Body}.");
            }

            // Without the key the same create-only write is a new one, and conflicts: the retries above were not applied.
            using var unkeyed = new HttpRequestMessage(HttpMethod.Put, "v1/components/once-proc/items/k0") { Content = new StringContent("{\"n\":0}", Encoding.UTF8, "application/json") };
            unkeyed.Headers.Add("If-None-Match", "*");
            using var conflict = await survivors[0].Http.SendAsync(unkeyed);
            Assert.Equal(HttpStatusCode.PreconditionFailed, conflict.StatusCode);
        }
        finally
        {
            foreach (var silo in silos.Values)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static Task<KeyedWrites.Answer> PutAsync(SiloProcess silo, int i) =>
        KeyedWrites.PutAsync(silo, $"v1/components/once-proc/items/k{i}", $"once-{i}", $"{{\"n\":{i}}}", Deadline, createOnly: true);
}
