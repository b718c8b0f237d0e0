using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;
using static OrleansReplication.Tests.Listeners.ClusterWatchRounds;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A watch on any one silo covers every partition of a 3-silo cluster: the partitions led elsewhere
/// are fanned in from their primaries, under one cursor that resumes exactly (on any silo).
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ClusterWatchTests(OrleansClusterFixture fixture)
{
    private ReplicationCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Sse_OnOneSilo_SeesEveryPrimarysChangesInPerKeyOrder_AndResumesOnAnotherSiloExactly()
    {
        const string component = "fan-in";
        var replicator = Cluster.Client.GetReplicator<int>(component);
        await WriteRoundAsync(replicator, 0);
        var leaders = (await PrimariesAsync(Enumerable.Range(0, Keys).Select(i => PartitionOf(component, "k" + i)))).Distinct().Count();
        Assert.Equal(3, leaders);

        var seen = new List<(string Key, int Value, string Cursor)>();
        string resumeAt;
        await using (var stream = await SseStream.OpenAsync(Cluster.Silos[0].Http, $"v1/components/{component}/watch"))
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
        await using (var stream = await SseStream.OpenAsync(Cluster.Silos[2].Http, $"v1/components/{component}/watch?cursor={Uri.EscapeDataString(resumeAt)}"))
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
        var silo = Cluster.Silos[0];
        var primaries = await PrimariesAsync(Enumerable.Range(0, ReplicationCluster.PartitionCount));
        var notLed = Enumerable.Range(0, ReplicationCluster.PartitionCount).First(p => primaries[p] != silo);
        await AssertProblemAsync(silo, $"v1/components/{component}/watch?partitions=x", HttpStatusCode.BadRequest, "invalid-request");
        await AssertProblemAsync(silo, $"v1/components/{component}/watch?partitions={ReplicationCluster.PartitionCount}", HttpStatusCode.BadRequest, "invalid-request");
        await AssertProblemAsync(silo, $"v1/components/{component}/watch?partitions={notLed}", HttpStatusCode.ServiceUnavailable, "unavailable");
    }

    [Fact]
    public async Task DotNet_WatchAsync_SeesEveryPrimary_AndResumesFromCursorExactly()
    {
        const string component = "fan-in-net";
        var replicator = Cluster.Client.GetReplicator<int>(component);
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

    private static async Task AssertProblemAsync(ClusterSilo silo, string url, HttpStatusCode status, string type)
    {
        using var response = await silo.Http.GetAsync(url);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith(type, problem.GetProperty("type").GetString(), StringComparison.Ordinal);
    }

    // Each partition's primary, from the partition map.
    private async Task<List<ClusterSilo>> PrimariesAsync(IEnumerable<int> partitions)
    {
        var primaries = new List<ClusterSilo>();
        foreach (var p in partitions)
        {
            primaries.Add((await Cluster.ReplicasOfAsync(p)).Primary);
        }

        return primaries;
    }
}
