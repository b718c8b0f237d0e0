using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes.Network;

namespace OrleansReplication.Testing.Processes;

/// <summary>Silo processes sharing one store, keyed by silo id: starting them, what is asked of them over HTTP, clients, clean-up.</summary>
public static class ProcessCluster
{
    /// <summary>Starts <paramref name="count"/> silos one after the other, each as <paramref name="options"/> say on a free instance; keyed by silo id. Disposes those started if one fails.</summary>
    public static Task<Dictionary<string, SiloProcess>> StartAsync(SiloLaunchOptions options, int count) =>
        StartAsync(Enumerable.Repeat(options with { Instance = null }, count));

    /// <summary>Starts a silo in each of <paramref name="network"/>'s hosts (the i-th silo in the i-th namespace), as <paramref name="options"/> say; see <see cref="StartAsync(SiloLaunchOptions, int)"/>.</summary>
    public static Task<Dictionary<string, SiloProcess>> StartAsync(SiloLaunchOptions options, IsolatedNetwork network) =>
        StartAsync(network.Hosts.Select(host => options with { Instance = null, Network = host }));

    private static async Task<Dictionary<string, SiloProcess>> StartAsync(IEnumerable<SiloLaunchOptions> each)
    {
        var silos = new Dictionary<string, SiloProcess>();
        try
        {
            foreach (var options in each)
            {
                var silo = await SiloProcess.StartAsync(options);
                silos[silo.SiloId] = silo;
            }

            return silos;
        }
        catch
        {
            await DisposeAllAsync(silos.Values);
            throw;
        }
    }

    /// <summary>The silos by id, with their HTTP clients, as <see cref="PartitionViews.FirstUnsettledAsync"/> takes them.</summary>
    public static Dictionary<string, HttpClient> HttpById(IEnumerable<SiloProcess> silos) => silos.ToDictionary(s => s.SiloId, s => s.Http);

    /// <summary>The silo that leads the most partitions, per <paramref name="asked"/>'s map.</summary>
    public static async Task<string> BusiestPrimaryAsync(SiloProcess asked) => PartitionViews.BusiestPrimary(await asked.PartitionsAsync());

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

    /// <summary>Every silo's errors (first: a tail may have dropped them) and the end of its log, for an assertion message.</summary>
    public static string Logs(Dictionary<string, SiloProcess> silos) =>
        string.Concat(silos.Select(s => Errors(s.Key, s.Value.StandardOutput))) +
        string.Concat(silos.Select(s => $"{Environment.NewLine}=== {s.Key} ==={Environment.NewLine}{Tail(s.Value.StandardOutput)}"));

    // A silo's "fail:" and "crit:" entries with the lines of their exceptions, at most a few.
    private static string Errors(string silo, string log)
    {
        var found = new System.Text.StringBuilder();
        var lines = log.Split('\n');
        for (var i = 0; i < lines.Length && found.Length < 4000; i++)
        {
            if (!lines[i].Contains(" fail: ", StringComparison.Ordinal) && !lines[i].Contains(" crit: ", StringComparison.Ordinal))
            {
                continue;
            }

            found.Append(Environment.NewLine).Append("ERROR in ").Append(silo).Append(": ").Append(lines[i].TrimEnd());
            for (var j = i + 1; j < lines.Length && j <= i + 8 && !IsEntry(lines[j]); j++)
            {
                found.Append(Environment.NewLine).Append("    ").Append(lines[j].Trim());
            }
        }

        return found.ToString();
    }

    // A log entry starts with its time of day ("14:55:40.557 info: ..."); an exception's lines do not.
    private static bool IsEntry(string line) => line.Length > 13 && char.IsAsciiDigit(line[0]) && line[2] == ':' && line[12] == ' ';

    // The end of a silo's log: what it did last is what explains a wait that timed out.
    private static string Tail(string log) => log.Length <= 6000 ? log : log[^6000..];
}
