using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;
using static OrleansReplication.Tests.Listeners.ClusterWatchRounds;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A cluster watch rides out changes of the cluster without missing an acknowledged change or
/// repeating one: a primary's crash (a real silo process, SIGKILL), the crash of the silo the
/// watch runs on, and primaries handed off to a silo that joins.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ClusterWatchAcrossChangesTests
{
    // Generous: the machine running the tests may be loaded well beyond its cores.
    private static readonly TimeSpan Stabilize = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Sse_PrimaryKilled_WatchOnSurvivorContinues_NoAckedChangeMissedNoneTwice()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        var component = cluster.ComponentWithKeyLedBy("fan-in-kill", "k0", victim.SiloId);
        var replicator = cluster.Client.GetReplicator<int>(component);

        await using var stream = await SseStream.OpenAsync(cluster.Silos[0].Http, $"v1/components/{component}/watch");
        Assert.Equal("snapshot-end", (await stream.ReadAsync())!.Type);
        var lastSeen = new Dictionary<string, (int Value, long Version)>();
        var reader = ObserveAsync(stream, lastSeen);

        await ChangeDuringWritesAsync(victim.KillAsync, replicator, lastSeen, reader, "the watch on a surviving silo");
    }

    [Fact]
    public async Task Sse_PrimariesHandedOffToAJoiningSilo_WatchContinues_NoAckedChangeMissedNoneTwice()
    {
        const string component = "fan-in-handoff";
        await using var cluster = await ReplicationCluster.StartAsync(2);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        var replicator = cluster.Client.GetReplicator<int>(component);

        await using var stream = await SseStream.OpenAsync(cluster.Silos[0].Http, $"v1/components/{component}/watch");
        Assert.Equal("snapshot-end", (await stream.ReadAsync())!.Type);
        var lastSeen = new Dictionary<string, (int Value, long Version)>();
        var reader = ObserveAsync(stream, lastSeen);

        // The third silo takes on its share of primaries by handoffs from the first two.
        ClusterSilo? joined = null;
        await ChangeDuringWritesAsync(async () => joined = await cluster.StartAdditionalSiloAsync(), replicator, lastSeen, reader, "the watch across handoffs");
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await WriteRoundAsync(replicator, 11);
        await Wait.UntilAsync(
            () =>
            {
                lock (lastSeen)
                {
                    return lastSeen.Values.All(v => v.Value == 11);
                }
            },
            TimeSpan.FromSeconds(60),
            "the watch to see the round written once the joined silo leads its share");
        var leaders = Enumerable.Range(0, Keys).Select(i => cluster.PrimaryOf(PartitionOf(component, "k" + i))).ToHashSet();
        Assert.Contains(ReplicationCluster.IdOf(joined!), leaders);
    }

    [Fact]
    public async Task DotNet_WatchedSiloKilled_WatchAsyncContinuesOnAnother_NoAckedChangeMissedNoneTwice()
    {
        const string component = "fan-in-net-kill";
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];

        // The watcher knows only the victim's gateway: its watch starts there and must move on.
        await using var watcher = await ReplicationClient.ConnectAsync(cluster.ClientOptionsFor(victim.GatewayEndPoint));
        var replicator = cluster.Client.GetReplicator<int>(component);
        var lastSeen = new Dictionary<string, (int Value, long Version)>();
        using var stop = new CancellationTokenSource();
        var snapshotEnded = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            await foreach (var change in watcher.GetReplicator<int>(component).WatchAsync(cancellationToken: stop.Token))
            {
                if (change.Kind == StateChangeKind.SnapshotEnd)
                {
                    snapshotEnded.TrySetResult();
                    continue;
                }

                lock (lastSeen)
                {
                    Observe(lastSeen, change.Key.Id, change.Value, change.Version);
                }
            }
        });
        await Wait.ForAsync(snapshotEnded.Task, TimeSpan.FromSeconds(30), "the watch's (empty) snapshot to end");

        await ChangeDuringWritesAsync(victim.KillAsync, replicator, lastSeen, reader, "the .NET watch, moved to a surviving silo,");
        await stop.CancelAsync();
        await reader.ContinueWith(_ => { }, TaskScheduler.Default);
    }
}
