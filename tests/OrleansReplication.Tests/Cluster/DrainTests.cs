using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Listeners;
using SseEvent = OrleansReplication.Tests.Listeners.SseEvent;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// <c>POST /v1/cluster/silos/{silo}/drain</c>: any silo accepts it; the drained silo hands every
/// primary to an in-sync standby (seal, catch up, swap) without failing a request, stays up
/// leading nothing, and the cluster event channel (SSE and the .NET client) tells of it.
/// </summary>
public sealed class DrainTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Drain_ViaAnotherSilo_EveryPrimaryHandedOffWithoutFailedWrites_IdempotentAndAnnounced()
    {
        await using var cluster = await ReplicationCluster.StartAsync(3);
        await cluster.WaitForReplicationToStabilizeAsync();
        var target = cluster.Silos[1];
        var entry = cluster.Silos[0];
        var targetId = ReplicationCluster.IdOf(target);
        await using var events = await SseStream.OpenAsync(entry.Http, "v1/cluster/events");
        using var clientEvents = new CancellationTokenSource(Deadline);
        await using var client = await ReplicationClient.ConnectAsync(cluster.ClientOptionsFor());
        await using var clientStream = client.WatchClusterEventsAsync(clientEvents.Token).GetAsyncEnumerator(clientEvents.Token);

        // A writer through the silos that stay (following redirects to primaries), counting every failure.
        using var writerHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var stopWriter = new CancellationTokenSource();
        var entries = new[] { entry, cluster.Silos[2] }.Select(s => $"http://127.0.0.1:{s.HttpPort}/").ToArray();
        var writer = Task.Run(async () =>
        {
            var (ok, failures) = (0, new List<string>());
            for (var n = 0; !stopWriter.IsCancellationRequested; n++)
            {
                using var put = await writerHttp.PutAsync($"{entries[n % 2]}v1/components/drain/items/k{n % 200}?safety=applied", new StringContent($"{{\"n\":{n}}}", Encoding.UTF8, "application/json"));
                if (put.IsSuccessStatusCode)
                {
                    ok++;
                }
                else
                {
                    failures.Add($"k{n % 200}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                }
            }

            return (ok, failures);
        });

        await Wait.UntilAsync(() => entry.PartitionsLedByAsync(targetId).ContinueWith(t => t.Result > 0), Deadline, $"{targetId} to lead a partition before the drain");
        using var accepted = await entry.Http.PostAsync($"v1/cluster/silos/{targetId}/drain", null);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal("draining", (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

        await Wait.UntilAsync(async () => await entry.PartitionsLedByAsync(targetId) == 0 && await target.PartitionsLedByAsync(targetId) == 0, Deadline, $"the drained silo {targetId} to lead no partition");
        using var again = await target.Http.PostAsync($"v1/cluster/silos/{targetId}/drain", null);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(0, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partitionsLed").GetInt32());

        stopWriter.Cancel();
        var (written, failed) = await writer;
        Assert.True(failed.Count == 0, $"{failed.Count} writes failed during the drain:{Environment.NewLine}{string.Join(Environment.NewLine, failed.Take(10))}{Environment.NewLine}The silos' logged errors:{cluster.LoggedErrors()}");
        Assert.True(written > 0, "The writer wrote nothing during the drain.");

        // The drained silo stays up and leads nothing: placement gives it no primary back.
        Assert.False(target.IsStopped);
        Assert.Equal(0, await entry.PartitionsLedByAsync(targetId));

        await WaitForEventAsync(events, e => e.Type == "silo-draining" && e.Data.GetProperty("silo").GetString() == targetId, "silo-draining");
        await WaitForEventAsync(events, e => e.Type == "partition-handed-off" && e.Data.GetProperty("partition").GetInt32() >= 0, "partition-handed-off");
        while (await clientStream.MoveNextAsync())
        {
            if (clientStream.Current is { Kind: "partition-handed-off", Partition: >= 0, Epoch: > 1 })
            {
                break;
            }
        }
    }

    [Fact]
    public async Task Drained_ThenTheLastOtherSiloStops_TheDrainedSiloLeadsEveryPartitionRatherThanNone()
    {
        await using var cluster = await ReplicationCluster.StartAsync(2);
        await cluster.WaitForReplicationToStabilizeAsync();
        var (drained, last) = (cluster.Silos[0], cluster.Silos[1]);
        var drainedId = ReplicationCluster.IdOf(drained);
        using var accepted = await drained.Http.PostAsync($"v1/cluster/silos/{drainedId}/drain", null);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await Wait.UntilAsync(async () => await drained.PartitionsLedByAsync(drainedId) == 0, Deadline, "the drained silo to lead nothing");
        var partitions = (await drained.Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").GetArrayLength();

        await cluster.StopSiloAsync(last);

        // The drained silo is the only one left: better it leads than no one does.
        await Wait.UntilAsync(async () => await drained.PartitionsLedByAsync(drainedId) == partitions, Deadline, "the drained silo, the only one left, to lead every partition");
        using var put = await drained.Http.PutAsync("v1/components/last-one/items/a?safety=applied", new StringContent("{\"n\":1}", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
    }


    private static async Task WaitForEventAsync(SseStream events, Func<SseEvent, bool> match, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < Deadline)
        {
            var next = await events.ReadAsync() ?? throw new InvalidOperationException($"The cluster event stream ended before a {what} event.");
            if (match(next))
            {
                return;
            }
        }

        throw new TimeoutException($"No {what} event within {Deadline.TotalSeconds:0} s.");
    }
}
