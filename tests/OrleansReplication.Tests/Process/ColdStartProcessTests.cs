using System.Net;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Every silo of a three-process cluster is SIGKILLed at once and started again: every write
/// acknowledged at Durable is still there, and a retry of one (same Idempotency-Key) is answered
/// with its first result instead of applying again.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ColdStartProcessTests : IDisposable
{
    private const int Partitions = 8;
    private const int Items = 200;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly string[] SiloIds = ["cold-a", "cold-b", "cold-c"];
    private readonly TempDirectory _dataDir = new("or-proc-cold-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task ThreeSiloProcesses_AllSigkilledAndRestarted_KeepEveryDurableWrite()
    {
        var acknowledged = new Dictionary<string, long>();
        var silos = await StartAllAsync();
        try
        {
            await WaitEveryPartitionLedAsync(silos);
            for (var i = 0; i < Items; i++)
            {
                // Through one silo: a partition led elsewhere answers 307, which HttpClient follows.
                acknowledged[$"k{i}"] = await PutDurableAsync(silos[i % silos.Length], $"k{i}", i);
            }
        }
        finally
        {
            // A crash of the whole cluster: nothing is flushed or closed.
            await Task.WhenAll(silos.Select(s => s.KillAsync()));
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }

        silos = await StartAllAsync();
        try
        {
            await WaitEveryPartitionLedAsync(silos);
            var missing = new List<string>();
            await Wait.UntilAsync(
                async () =>
                {
                    missing.Clear();
                    foreach (var (key, version) in acknowledged)
                    {
                        using var get = await silos[0].Http.GetAsync($"v1/components/cold/items/{key}");
                        var stored = get.StatusCode == HttpStatusCode.OK && long.TryParse(get.Headers.ETag?.Tag.Trim('"'), out var v) ? v : 0;
                        if (stored < version || (stored == version && await get.Content.ReadAsStringAsync() != Json(key)))
                        {
                            missing.Add($"{key}@{version} (read {(int)get.StatusCode} at {stored})");
                        }
                    }

                    return missing.Count == 0;
                },
                Deadline,
                "every Durable write to be readable at its acknowledged version after the cold start");
            Assert.Empty(missing);

            for (var i = 0; i < Items; i += 10)
            {
                var replayed = await PutDurableAsync(silos[(i + 1) % silos.Length], $"k{i}", i);
                Assert.True(replayed == acknowledged[$"k{i}"], $"The retry of k{i}'s write after the cold start answered version {replayed}, not the first attempt's {acknowledged[$"k{i}"]}.");
            }

            using var get = await silos[0].Http.GetAsync("v1/components/cold/items/k0");
            Assert.Equal($"\"{acknowledged["k0"]}\"", get.Headers.ETag?.Tag);
        }
        catch (TimeoutException ex)
        {
            Assert.Fail($"{ex.Message}{string.Concat(silos.Select(s => s.Describe()))}");
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static string Json(string key) => $"{{\"key\":\"{key}\"}}";

    private async Task<SiloProcess[]> StartAllAsync()
    {
        var silos = new List<SiloProcess>();
        foreach (var id in SiloIds)
        {
            silos.Add(await SiloProcess.StartAsync(_dataDir.Path, "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silo-id", id));
        }

        return [.. silos];
    }

    /// <summary>A write at Durable with an Idempotency-Key; returns the acknowledged version.</summary>
    private static async Task<long> PutDurableAsync(SiloProcess silo, string key, int attempt)
    {
        var answer = await KeyedWrites.PutAsync(silo, $"v1/components/cold/items/{key}?safety=durable", $"cold-start-{key}", Json(key), Deadline);
        Assert.True(answer.Status is HttpStatusCode.Created, $"PUT {key} (write #{attempt}) answered {(int)answer.Status}: {answer.Body}");
        return answer.Version;
    }

    private static Task WaitEveryPartitionLedAsync(SiloProcess[] silos) => KeyedWrites.WaitEveryPartitionLedAsync(silos, Partitions, Deadline);
}
