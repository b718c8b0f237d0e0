using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Orleans fetches a peer's silo metadata only from peers whose membership row is fresh. After a
/// store outage a live silo's IAmAlive row can stay stale (nemesis seed 7102): a silo that joined
/// then took the live peer for one still joining, never placed a standby on it, and promoted
/// itself over it. Here the stale row is made by the peer publishing IAmAlive rarely.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class StaleMembershipRowProcessTests : IDisposable
{
    private const int Partitions = 8;
    private readonly TempDirectory _dataDir = new("or-proc-stale-row-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task PeerWithAStaleIAmAliveRow_IsActiveToASiloThatJoinsAfter_AndTheClusterBalances()
    {
        await using var stale = await SiloProcess.StartAsync(Options("00:10:00"));
        var staleSince = Stopwatch.StartNew();

        // The newcomer counts a row stale after 3 x its own publish period of 1 s (Orleans'
        // NumMissedTableIAmAliveLimit), and a second more for the clocks' slack.
        var staleAfter = TimeSpan.FromSeconds(4);
        if (staleSince.Elapsed < staleAfter)
        {
            await Task.Delay(staleAfter - staleSince.Elapsed); // the precondition is the row's age itself
        }

        await using var newcomer = await SiloProcess.StartAsync(Options("00:00:01"));

        await Wait.UntilAsync(
            async () => await ProcessCluster.StatusOfAsync(newcomer, stale.SiloId) == "active",
            TimeSpan.FromSeconds(20),
            $"the newcomer to see {stale.SiloId} active");
        var silos = new Dictionary<string, SiloProcess> { [stale.SiloId] = stale, [newcomer.SiloId] = newcomer };
        await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);
        Assert.Contains("read it from the silo itself", newcomer.StandardOutput, StringComparison.Ordinal);

        var map = await newcomer.PartitionsAsync();
        Assert.Contains(map, p => p.GetProperty("primary").GetString() == stale.SiloId);
        Assert.Contains(map, p => p.GetProperty("primary").GetString() == newcomer.SiloId);
    }

    private SiloLaunchOptions Options(string iAmAlivePeriod) => new()
    {
        DataDir = _dataDir.Path,
        Arguments = ["--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture)],
        Environment = new Dictionary<string, string> { ["Silo__Membership__IAmAlivePublishTimeout"] = iAmAlivePeriod },
    };
}
