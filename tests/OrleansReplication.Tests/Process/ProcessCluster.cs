using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>What process-level tests ask a cluster of silo processes over HTTP.</summary>
internal static class ProcessCluster
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Every partition led by a live silo, no silo leading more than 1.5x its share, every standby
    /// on another silo and in sync as its primary sees it; with <paramref name="lagZero"/>, at the
    /// primary's last sequence.
    /// </summary>
    public static async Task WaitBalancedAndInSyncAsync(Dictionary<string, SiloProcess> silos, int partitions, bool lagZero)
    {
        try
        {
            await WaitBalancedAndInSyncCoreAsync(silos, partitions, lagZero);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + Logs(silos), ex);
        }
    }

    /// <summary>The end of every silo's log, for an assertion message.</summary>
    public static string Logs(Dictionary<string, SiloProcess> silos) =>
        string.Concat(silos.Select(s => $"{Environment.NewLine}=== {s.Key} ==={Environment.NewLine}{Tail(s.Value.StandardOutput)}"));

    // The end of a silo's log: what it did last is what explains a wait that timed out.
    private static string Tail(string log) => log.Length <= 6000 ? log : log[^6000..];

    private static Task WaitBalancedAndInSyncCoreAsync(Dictionary<string, SiloProcess> silos, int partitions, bool lagZero) => Wait.UntilAsync(
        async () =>
        {
            var any = silos.Values.First();
            var map = await PartitionsAsync(any);
            var share = (double)partitions / silos.Count;
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

    public static async Task<string> IdOfAsync(SiloProcess silo) =>
        (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!;

    public static async Task<List<JsonElement>> PartitionsAsync(SiloProcess silo) =>
        [.. (await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];

    /// <summary>Starts <paramref name="count"/> silos on one store and waits until they are balanced and in sync; keyed by silo incarnation.</summary>
    public static async Task<Dictionary<string, SiloProcess>> StartAsync(string dataDir, int count, int partitions, params string[] storeArguments)
    {
        var silos = new Dictionary<string, SiloProcess>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var silo = await SiloProcess.StartAsync(dataDir, [.. storeArguments, "--partitions", partitions.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                silos[await IdOfAsync(silo)] = silo;
            }

            await WaitBalancedAndInSyncAsync(silos, partitions, lagZero: false);
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

    /// <summary>The silo that leads the most partitions, per <paramref name="asked"/>'s map.</summary>
    public static async Task<string> BusiestPrimaryAsync(SiloProcess asked) =>
        (await PartitionsAsync(asked)).GroupBy(p => p.GetProperty("primary").GetString()!).OrderByDescending(g => g.Count()).First().Key;

    /// <summary>The status of <paramref name="silo"/> in <paramref name="asked"/>'s membership view.</summary>
    public static async Task<string?> StatusOfAsync(SiloProcess asked, string silo) =>
        (await asked.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()
            .Where(s => s.GetProperty("id").GetString() == silo).Select(s => s.GetProperty("status").GetString()).FirstOrDefault();

    /// <summary>
    /// Connects <paramref name="count"/> .NET clients, each given every silo's gateway (no load
    /// balancer in front); the caller disposes them.
    /// </summary>
    public static async Task<List<ReplicationClient>> ConnectClientsAsync(IEnumerable<SiloProcess> silos, int count, TimeSpan requestTimeout)
    {
        var options = new ReplicationClientOptions { Gateways = [.. silos.Select(s => s.GatewayEndPoint.ToString())], RequestTimeout = requestTimeout };
        var clients = new List<ReplicationClient>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                clients.Add(await ReplicationClient.ConnectAsync(options));
            }

            return clients;
        }
        catch
        {
            await DisposeAllAsync(clients);
            throw;
        }
    }

    /// <summary>Disposes every one of <paramref name="items"/> (silos, clients), one after the other.</summary>
    public static async Task DisposeAllAsync(IEnumerable<IAsyncDisposable> items)
    {
        foreach (var item in items)
        {
            await item.DisposeAsync();
        }
    }
}
