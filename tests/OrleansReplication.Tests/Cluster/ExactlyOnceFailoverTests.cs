using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Tests.Gateway;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>A write's retry after its primary crashed reaches the promoted standby, which answers the first attempt's result instead of applying it again.</summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ExactlyOnceFailoverTests
{
    private const string Component = "once";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task RetryAfterPrimaryKilled_NewPrimaryAnswersOriginalResult_VersionNotBumped()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync();
        var partition = PartitionHasher.GetPartition(Component, "k", cluster.Silos[0].Services.GetRequiredService<PartitionManager>().PartitionCount);
        var (primary, _) = await cluster.ReplicasOfAsync(partition);
        var request = new ApplyRequest
        {
            Component = Component,
            Safety = Safety.Applied,
            RequestId = new RequestId { ClientId = "failover-client", Sequence = 42 },
            Changes =
            {
                new ItemChange { Id = "k", Value = Google.Protobuf.ByteString.CopyFromUtf8("{\"n\":1}"), ExpectedVersion = -1 },
                new ItemChange { Id = "k", Remove = true, ExpectedVersion = -2 },
                new ItemChange { Id = "k", Value = Google.Protobuf.ByteString.CopyFromUtf8("{\"n\":2}"), ExpectedVersion = 0 },
            },
        };

        ApplyReply first;
        await using (var connection = await RawGatewayConnection.OpenAsync(primary.GatewayEndPoint))
        {
            first = (await connection.RequestAsync(MessageType.Apply, 1, request)).Parse(ApplyReply.Parser);
        }

        await cluster.KillSiloAsync(primary);
        var (retry, newPrimary) = await RetryUntilAppliedAsync(cluster, request);

        Assert.Equal(first, retry);

        // Read on the silo that answered (it leads the partition); another may still redirect to the dead one for a moment.
        using var get = await newPrimary.Http.GetAsync($"v1/components/{Component}/items/k");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal($"\"{first.Results[2].Version}\"", get.Headers.ETag?.Tag);
        Assert.Equal("{\"n\":2}", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AckLostInTheCrash_CreateOnlyRetry_SucceedsOnceNeverConflicts()
    {
        await using var cluster = await TestCluster.StartAsync(initialSilos: 3);
        await cluster.WaitForReplicationToStabilizeAsync();
        var partition = PartitionHasher.GetPartition(Component, "lost", cluster.Silos[0].Services.GetRequiredService<PartitionManager>().PartitionCount);
        var (primary, _) = await cluster.ReplicasOfAsync(partition);

        // Create-only: applied twice, the second application would be a version conflict.
        var request = new ApplyRequest
        {
            Component = Component,
            Safety = Safety.Applied,
            RequestId = new RequestId { ClientId = "lost-ack-client", Sequence = 1 },
            Changes = { new ItemChange { Id = "lost", Value = Google.Protobuf.ByteString.CopyFromUtf8("1"), ExpectedVersion = 0 } },
        };
        await using (var connection = await RawGatewayConnection.OpenAsync(primary.GatewayEndPoint))
        {
            // The first attempt is sent and its answer never read: the primary dies with it in flight or applied.
            await connection.SendAsync(MessageType.Apply, 1, request);
            await cluster.KillSiloAsync(primary);
        }

        var (retry, newPrimary) = await RetryUntilAppliedAsync(cluster, request);
        var again = (await RetryUntilAppliedAsync(cluster, request)).Reply;

        var result = Assert.Single(retry.Results);
        Assert.True(result.Created, $"the retry answered {result}");
        Assert.Equal(retry, again);
        using var get = await newPrimary.Http.GetAsync($"v1/components/{Component}/items/lost");
        Assert.Equal($"\"{result.Version}\"", get.Headers.ETag?.Tag);
    }

    /// <summary>Sends the request to each surviving silo in turn until one answers it (the others redirect, or wait for the promotion).</summary>
    private static async Task<(ApplyReply Reply, InProcessSilo Silo)> RetryUntilAppliedAsync(TestCluster cluster, ApplyRequest request)
    {
        ApplyReply? reply = null;
        InProcessSilo? answered = null;
        var correlation = 100UL;
        var last = "nothing yet";
        await Wait.UntilAsync(
            async () =>
            {
                foreach (var silo in cluster.Silos)
                {
                    await using var connection = await RawGatewayConnection.OpenAsync(silo.GatewayEndPoint);
                    var frame = await connection.RequestAsync(MessageType.Apply, ++correlation, request);
                    if (frame.Type == MessageType.ApplyReply)
                    {
                        reply = frame.Parse(ApplyReply.Parser);
                        answered = silo;
                        return true;
                    }

                    var error = frame.AsError();
                    Assert.True(error.Code is ErrorCode.ErrorNotPrimary or ErrorCode.ErrorUnavailable, $"The retry was refused: {error}");
                    last = error.ToString();
                }

                return false;
            },
            Deadline,
            $"a surviving silo to answer the retry (last answer: {last})");
        return (reply!, answered!);
    }
}
