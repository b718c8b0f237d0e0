using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>Waits for the cluster to settle, and who leads what, as the silos themselves see it.</summary>
public sealed partial class ReplicationCluster
{
    private static readonly TimeSpan DefaultStabilizeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The id (<c>name@generation</c>, the incarnation) a running silo goes by in the cluster's views.</summary>
    public static string IdOf(ClusterSilo silo) => silo.Services.GetRequiredService<SiloIdentity>().Address.ToString();

    /// <summary>
    /// Waits until every running silo, silo processes included, sees exactly the running silo
    /// incarnations as active (ours is the view that counts: a silo is active there once its
    /// metadata arrived, a moment after Orleans shows it active).
    /// </summary>
    public async Task WaitForLivenessToStabilizeAsync(TimeSpan? timeout = null)
    {
        var live = Live();
        await Wait.UntilAsync(
            async () =>
            {
                foreach (var http in live.Values)
                {
                    var active = (await http.GetFromJsonAsync<JsonElement>("v1/cluster/silos")).GetProperty("silos").EnumerateArray()
                        .Where(s => s.GetProperty("status").GetString() == "active")
                        .Select(s => s.GetProperty("id").GetString()!);
                    if (!live.Keys.ToHashSet().SetEquals(active))
                    {
                        return false;
                    }
                }

                return true;
            },
            timeout ?? DefaultStabilizeTimeout,
            $"all {live.Count} running silos to see exactly [{string.Join(", ", live.Keys)}] as active");
    }

    /// <summary>
    /// Waits until replication is settled: every partition is led by a running silo (silo processes
    /// included), no silo leads more than its share (primaries are handed off gradually), and every
    /// partition's standbys are in sync as seen by its own primary (only the primary knows), and no
    /// standby is being moved.
    /// </summary>
    public async Task WaitForReplicationToStabilizeAsync(TimeSpan? timeout = null)
    {
        var reason = "nothing observed yet";
        var live = Live();
        var replicationFactor = Silos[0].Services.GetRequiredService<IOptions<PlacementOptions>>().Value.ReplicationFactor;
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    var partitions = await PartitionViews.PartitionsAsync(live.Values.First());
                    var share = (int)Math.Ceiling((double)partitions.Count / live.Count);
                    reason = await PartitionViews.FirstUnsettledAsync(live, partitions, share, (_, view) =>
                    {
                        var standbys = PartitionViews.Standbys(view);
                        // A row with more standbys than it keeps is moving one (the newcomer beside the one it replaces).
                        return (live.Count == 1 || standbys.Count > 0) && standbys.Count < replicationFactor && standbys.All(PartitionViews.InSync);
                    }) ?? string.Empty;
                    return reason.Length == 0;
                },
                timeout ?? DefaultStabilizeTimeout,
                $"every partition to be led by one of the {live.Count} running silos, primaries balanced, and all standbys in sync");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Last seen: {reason}", ex);
        }
    }

    /// <summary>The running silo that leads <paramref name="partition"/>, and the running silos holding its standbys (silo processes aside).</summary>
    public async Task<(ClusterSilo Primary, IReadOnlyList<ClusterSilo> Standbys)> ReplicasOfAsync(int partition)
    {
        var byId = Silos.ToDictionary(IdOf);
        var row = (await PartitionViews.PartitionsAsync(Silos[0].Http)).Single(p => p.GetProperty("id").GetInt32() == partition);
        var standbys = PartitionViews.Standbys(row).Select(PartitionViews.SiloOf).Where(byId.ContainsKey).Select(id => byId[id]).ToList();
        return (byId[row.GetProperty("primary").GetString()!], standbys);
    }

    /// <summary>What the running test cluster silos logged at Error or above, for an assertion message.</summary>
    public string LoggedErrors() => string.Concat(Silos.SelectMany(s => s.Services.GetRequiredService<RecordingLoggerProvider>().Entries.Select(e =>
        $"{Environment.NewLine}{s.Name} {e.Level} {e.Category}: {e.Message}{(e.Exception is null ? string.Empty : Environment.NewLine + "    " + e.Exception.GetType().FullName + ": " + e.Exception.Message)}")));

    /// <summary>The id of the silo leading <paramref name="partition"/> in the partition map, as the first running silo knows it.</summary>
    public string? PrimaryOf(int partition) => Silos[0].Services.GetRequiredService<PartitionMapManager>().Current[partition]?.Primary?.ToString();

    /// <summary>
    /// A component name, <paramref name="prefix"/> and a number, whose <paramref name="key"/> lands on
    /// a partition <paramref name="silo"/> leads: how a test puts the item it watches on the silo it crashes.
    /// </summary>
    public string ComponentWithKeyLedBy(string prefix, string key, string silo) =>
        Enumerable.Range(0, 1000).Select(n => $"{prefix}-{n}").FirstOrDefault(c => PrimaryOf(PartitionHasher.GetPartition(c, key, PartitionCount)) == silo)
        ?? throw new InvalidOperationException($"{silo} leads no partition, so no component puts {key} on it.");

    // Every running silo by id, with its HTTP client: the test cluster's and the live silo processes.
    private Dictionary<string, HttpClient> Live()
    {
        var live = Silos.ToDictionary(IdOf, s => s.Http);
        foreach (var process in SiloProcesses.Where(p => !p.HasExited))
        {
            live[process.SiloId] = process.Http;
        }

        return live;
    }
}
