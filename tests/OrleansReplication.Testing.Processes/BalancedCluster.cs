using System.Globalization;
namespace OrleansReplication.Testing.Processes;

/// <summary>What process tests wait for before and after they break something: silos balanced and in sync.</summary>
public static class BalancedCluster
{
    /// <summary>How long the cluster may take to settle.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <summary>Starts <paramref name="count"/> silos on one store and waits until they are balanced and in sync; keyed by silo id.</summary>
    public static async Task<Dictionary<string, SiloProcess>> StartAsync(string dataDir, int count, int partitions, params string[] storeArguments)
    {
        var options = new SiloLaunchOptions { DataDir = dataDir, Arguments = [.. storeArguments, "--partitions", partitions.ToString(CultureInfo.InvariantCulture)] };
        var silos = await ProcessCluster.StartAsync(options, count);
        try
        {
            await WaitAsync(silos, partitions, lagZero: false);
            return silos;
        }
        catch
        {
            await ProcessCluster.DisposeAllAsync(silos.Values);
            throw;
        }
    }

    /// <summary>
    /// Every partition led by a live silo, no silo leading more than 1.5x its share, every standby
    /// on another silo and in sync as its primary sees it; with <paramref name="lagZero"/>, at the
    /// primary's last sequence.
    /// </summary>
    public static async Task WaitAsync(Dictionary<string, SiloProcess> silos, int partitions, bool lagZero)
    {
        var live = ProcessCluster.HttpById(silos.Values);
        var share = (double)partitions / silos.Count;
        var maxLeads = (int)Math.Floor(1.5 * share);
        var reason = "nothing observed yet";
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    reason = await PartitionViews.FirstUnsettledAsync(live, await silos.Values.First().PartitionsAsync(), maxLeads, (primary, view) =>
                    {
                        var standbys = PartitionViews.Standbys(view);
                        return standbys.Count > 0 && standbys.All(s => PartitionViews.InSync(s)
                            && PartitionViews.SiloOf(s) != primary
                            && silos.ContainsKey(PartitionViews.SiloOf(s))
                            && (!lagZero || PartitionViews.AtLastSequence(s, view)));
                    }) ?? string.Empty;
                    return reason.Length == 0;
                },
                Deadline,
                $"every partition to be led by one of [{string.Join(", ", silos.Keys)}] (at most {maxLeads} each) with in-sync standbys on other silos{(lagZero ? " at lag 0" : string.Empty)}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Last seen: {reason}{ProcessCluster.Logs(silos)}", ex);
        }
    }
}
