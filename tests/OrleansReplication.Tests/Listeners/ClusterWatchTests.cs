using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A watch on any one silo covers every partition of a 3-silo cluster: the partitions led elsewhere
/// are fanned in from their primaries, under one cursor that resumes exactly (on any silo), and the
/// watch rides out a primary's crash without missing an acknowledged change.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ClusterWatchTests
{
    private const int Partitions = 16;

    // Generous: the machine running the tests may be loaded well beyond its cores.
    private static readonly TimeSpan Stabilize = TimeSpan.FromSeconds(90);
    private const int Keys = 48;

    [Fact]
    public async Task Sse_OnOneSilo_SeesEveryPrimarysChangesInPerKeyOrder_AndResumesOnAnotherSiloExactly()
    {
        const string component = "fan-in";
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster);
        var replicator = client.GetReplicator<int>(component);
        await WriteRoundAsync(replicator, 0);
        var leaders = (await PrimariesAsync(cluster, Enumerable.Range(0, Keys).Select(i => PartitionOf(component, "k" + i)))).Distinct().Count();
        Assert.Equal(3, leaders);

        var seen = new List<(string Key, int Value, string Cursor)>();
        string resumeAt;
        await using (var stream = await SseStream.OpenAsync(cluster.Silos[0].Http, $"v1/components/{component}/watch"))
        {
            var snapshot = new Dictionary<string, int>();
            SseEvent e;
            while ((e = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended in its snapshot.")).Type != "snapshot-end")
            {
                Assert.Null(e.Id);
                snapshot.Add(e.Data.GetProperty("id").GetString()!, e.Data.GetProperty("value").GetInt32());
            }

            Assert.Equal(Enumerable.Range(0, Keys).ToDictionary(i => "k" + i, _ => 0), snapshot);
            for (var round = 1; round <= 4; round++)
            {
                await WriteRoundAsync(replicator, round);
            }

            while (seen.Count < Keys * 4)
            {
                e = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended early.");
                seen.Add((e.Data.GetProperty("id").GetString()!, e.Data.GetProperty("value").GetInt32(), e.Id!));
            }

            resumeAt = seen[Keys * 2 - 1].Cursor;
        }

        AssertEveryKeyInOrder(seen, rounds: 4);

        // Resumed on another silo from the middle: exactly the changes after the cursor follow.
        await WriteRoundAsync(replicator, 5);
        var expected = seen.Skip(Keys * 2).Select(s => (s.Key, s.Value)).Concat(Enumerable.Range(0, Keys).Select(i => ("k" + i, 5))).ToHashSet();
        var resumed = new List<(string Key, int Value)>();
        await using (var stream = await SseStream.OpenAsync(cluster.Silos[2].Http, $"v1/components/{component}/watch?cursor={Uri.EscapeDataString(resumeAt)}"))
        {
            while (resumed.Count < expected.Count)
            {
                var e = await stream.ReadAsync() ?? throw new InvalidOperationException("The resumed watch ended early.");
                Assert.NotEqual("snapshot-end", e.Type);
                resumed.Add((e.Data.GetProperty("id").GetString()!, e.Data.GetProperty("value").GetInt32()));
            }
        }

        Assert.Equal(expected.Count, resumed.Distinct().Count());
        Assert.True(expected.SetEquals(resumed), $"Resumed events differ from those after the cursor: missing [{string.Join(", ", expected.Except(resumed).Take(5))}], extra [{string.Join(", ", resumed.Except(expected).Take(5))}].");

        // The silo-to-silo filter is checked like any input: malformed or unknown partitions are
        // 400, a partition this silo does not lead is 503 (ask its primary).
        var silo = cluster.Silos[0];
        var primaries = await PrimariesAsync(cluster, Enumerable.Range(0, Partitions));
        var notLed = Enumerable.Range(0, Partitions).First(p => primaries[p] != silo.GatewayEndPoint.ToString());
        await AssertProblemAsync(silo, $"v1/components/{component}/watch?partitions=x", HttpStatusCode.BadRequest, "invalid-request");
        await AssertProblemAsync(silo, $"v1/components/{component}/watch?partitions={Partitions}", HttpStatusCode.BadRequest, "invalid-request");
        await AssertProblemAsync(silo, $"v1/components/{component}/watch?partitions={notLed}", HttpStatusCode.ServiceUnavailable, "unavailable");
    }

    private static async Task AssertProblemAsync(InProcessSilo silo, string url, HttpStatusCode status, string type)
    {
        using var response = await silo.Http.GetAsync(url);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith(type, problem.GetProperty("type").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sse_PrimaryKilled_WatchOnSurvivorContinues_NoAckedChangeMissedNoneTwice()
    {
        const string component = "fan-in-kill";
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster);
        var replicator = client.GetReplicator<int>(component);
        var (victim, _) = await cluster.ReplicasOfAsync(PartitionOf(component, "k0"));
        var watched = cluster.Silos.First(s => s != victim);

        await using var stream = await SseStream.OpenAsync(watched.Http, $"v1/components/{component}/watch");
        Assert.Equal("snapshot-end", (await stream.ReadAsync())!.Type);
        var lastSeen = new Dictionary<string, (int Value, long Version)>();
        var reader = ObserveAsync(stream, lastSeen);

        await ChangeDuringWritesAsync(() => cluster.KillSiloAsync(victim), replicator, lastSeen, reader, "the watch on a surviving silo");
    }

    [Fact]
    public async Task Sse_PrimariesHandedOffToAJoiningSilo_WatchContinues_NoAckedChangeMissedNoneTwice()
    {
        const string component = "fan-in-handoff";
        await using var cluster = await TestCluster.StartAsync(initialSilos: 2);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster);
        var replicator = client.GetReplicator<int>(component);

        await using var stream = await SseStream.OpenAsync(cluster.Silos[0].Http, $"v1/components/{component}/watch");
        Assert.Equal("snapshot-end", (await stream.ReadAsync())!.Type);
        var lastSeen = new Dictionary<string, (int Value, long Version)>();
        var reader = ObserveAsync(stream, lastSeen);

        // The third silo takes on its share of primaries by handoffs from the first two.
        InProcessSilo? joined = null;
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
        var leaders = (await PrimariesAsync(cluster, Enumerable.Range(0, Keys).Select(i => PartitionOf(component, "k" + i)))).ToHashSet();
        Assert.Contains(joined!.GatewayEndPoint.ToString(), leaders);
    }

    [Fact]
    public async Task DotNet_WatchAsync_SeesEveryPrimary_AndResumesFromCursorExactly()
    {
        const string component = "fan-in-net";
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        await using var client = await ConnectAsync(cluster);
        var replicator = client.GetReplicator<int>(component);
        await WriteRoundAsync(replicator, 0);

        var seen = new List<(string Key, int Value, string Cursor)>();
        using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            var snapshot = 0;
            var writer = Task.CompletedTask;
            await foreach (var change in replicator.WatchAsync(cancellationToken: cancel.Token))
            {
                if (change.Kind == StateChangeKind.SnapshotEnd)
                {
                    Assert.Equal(Keys, snapshot);
                    writer = Task.Run(async () =>
                    {
                        for (var round = 1; round <= 3; round++)
                        {
                            await WriteRoundAsync(replicator, round);
                        }
                    });
                    continue;
                }

                if (change.Cursor is null)
                {
                    snapshot++;
                    continue;
                }

                seen.Add((change.Key.Id, change.Value, change.Cursor));
                if (seen.Count == Keys * 3)
                {
                    break;
                }
            }

            await writer;
        }

        AssertEveryKeyInOrder(seen, rounds: 3);
        var expected = seen.Skip(Keys).Select(s => (s.Key, s.Value)).ToHashSet();
        var resumed = new List<(string Key, int Value)>();
        using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await foreach (var change in replicator.WatchAsync(cursor: seen[Keys - 1].Cursor, cancellationToken: cancel.Token))
            {
                resumed.Add((change.Key.Id, change.Value));
                if (resumed.Count == expected.Count)
                {
                    break;
                }
            }
        }

        Assert.Equal(expected.Count, resumed.Distinct().Count());
        Assert.True(expected.SetEquals(resumed), "The resumed .NET watch differs from the changes after its cursor.");
    }

    [Fact]
    public async Task DotNet_WatchedSiloKilled_WatchAsyncContinuesOnAnother_NoAckedChangeMissedNoneTwice()
    {
        const string component = "fan-in-net-kill";
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);
        var victim = cluster.Silos[1];

        // The watcher knows only the victim's gateway: its watch starts there and must move on.
        await using var watcher = await ReplicationClient.ConnectAsync(new ReplicationClientOptions { Gateways = [victim.GatewayEndPoint.ToString()], RequestTimeout = TimeSpan.FromSeconds(60) });
        await using var writer = await ConnectAsync(cluster);
        var replicator = writer.GetReplicator<int>(component);
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

        await ChangeDuringWritesAsync(() => cluster.KillSiloAsync(victim), replicator, lastSeen, reader, "the .NET watch, moved to a surviving silo,");
        await stop.CancelAsync();
        await reader.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static Task ObserveAsync(SseStream stream, Dictionary<string, (int Value, long Version)> lastSeen) => Task.Run(async () =>
    {
        while (await stream.ReadAsync() is { } e)
        {
            lock (lastSeen)
            {
                Observe(lastSeen, e.Data.GetProperty("id").GetString()!, e.Data.GetProperty("value").GetInt32(), e.Data.GetProperty("version").GetInt64());
            }
        }
    });

    // Writes 10 rounds acknowledged at Applied (a standby that takes over has each), making the
    // cluster change before round 4; then waits for the watcher to see every key's last value.
    private static async Task ChangeDuringWritesAsync(Func<Task> change, IStateReplicator<int> replicator, Dictionary<string, (int Value, long Version)> lastSeen, Task reader, string watcher)
    {
        for (var round = 1; round <= 10; round++)
        {
            if (round == 4)
            {
                await change();
            }

            await WriteRoundAsync(replicator, round);
        }

        await Wait.UntilAsync(
            () =>
            {
                Assert.False(reader.IsCompleted, $"The watch ended: {reader.Exception?.GetBaseException().Message}");
                lock (lastSeen)
                {
                    return lastSeen.Count == Keys && lastSeen.Values.All(v => v.Value == 10);
                }
            },
            TimeSpan.FromSeconds(60),
            watcher + " to see every key's last acknowledged value");
    }

    // Per key, each change once and in order: versions strictly rise. (A write retried across the
    // crash may apply twice as two changes, so values may repeat, but never go back.)
    private static void Observe(Dictionary<string, (int Value, long Version)> lastSeen, string key, int value, long version)
    {
        if (lastSeen.TryGetValue(key, out var before))
        {
            Assert.True(version > before.Version && value >= before.Value, $"{key}: value {value} at version {version} after value {before.Value} at version {before.Version}: out of order or twice.");
        }

        lastSeen[key] = (value, version);
    }

    private static void AssertEveryKeyInOrder(List<(string Key, int Value, string Cursor)> seen, int rounds)
    {
        foreach (var key in seen.GroupBy(s => s.Key))
        {
            Assert.Equal(Enumerable.Range(1, rounds), key.Select(s => s.Value));
        }

        Assert.Equal(Keys, seen.Select(s => s.Key).Distinct().Count());
    }

    private static Task WriteRoundAsync(IStateReplicator<int> replicator, int round) =>
        replicator.SetStateItemsAsync(Enumerable.Range(0, Keys).Select(i => KeyValuePair.Create<ItemKey, int>("k" + i, round)), new WriteOptions { Safety = SafetyLevel.Applied });

    internal static int PartitionOf(string component, string key) => PartitionHasher.GetPartition(component, key, Partitions);

    internal static Task<ReplicationClient> ConnectAsync(TestCluster cluster) =>
        ReplicationClient.ConnectAsync(new ReplicationClientOptions
        {
            Gateways = [.. cluster.Silos.Select(s => s.GatewayEndPoint.ToString())],
            RequestTimeout = TimeSpan.FromSeconds(60),
        });

    // The gateway endpoint of each partition's primary, from the partition map.
    private static async Task<List<string>> PrimariesAsync(TestCluster cluster, IEnumerable<int> partitions)
    {
        var primaries = new List<string>();
        foreach (var p in partitions)
        {
            primaries.Add((await cluster.ReplicasOfAsync(p)).Primary.GatewayEndPoint.ToString());
        }

        return primaries;
    }
}
