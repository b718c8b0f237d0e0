using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>The replica service as Orleans runs it: its contracts through Orleans' serializer, and calls to a real silo's grain service.</summary>
public sealed class ReplicaServiceTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    [Fact]
    public void Serializer_RecordsAndAcks_RoundTripEveryField()
    {
        using var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(ReplicationBatch).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var request = new ReplicatedRequest { ClientId = "c", ClientSequence = 9, LastSequence = 2, RecordedAtMs = 5, Results = [new ReplicatedResult { Id = "a", PartitionKey = "p", Version = 2, Changed = true, Created = true }] };
        ReplicationMessage[] records =
        [
            new(new ReplicationBatch { Partition = 3, Epoch = 4, Changes = [new ReplicatedChange { Component = "c", PartitionKey = "p", Id = "a", Sequence = 2, Value = "{}"u8.ToArray(), Request = request }] }, null, 100),
            new(null, new SnapshotChunk { Partition = 3, Epoch = 4, SnapshotSequence = 7, Items = [new ReplicatedChange { Component = "c", Id = "b", Sequence = 7, Remove = true }], Requests = [request], Last = true }, 100),
        ];
        ReplicationAck[] acks = [new ReplicationAck { Partition = 3, Epoch = 4, ReceivedSequence = 7, AppliedSequence = 6, CatchUpRequested = true }];

        var readRecords = serializer.Deserialize<ReplicationMessage[]>(serializer.SerializeToArray(records));
        var readAcks = serializer.Deserialize<ReplicationAck[]>(serializer.SerializeToArray(acks));

        Assert.Equal(acks, readAcks);
        Assert.NotNull(readRecords);
        var batch = readRecords[0].Batch!;
        Assert.Null(readRecords[0].Chunk);
        Assert.Equal(100, readRecords[0].Bytes);
        Assert.Equal((3, 4L), (batch.Partition, batch.Epoch));
        var change = Assert.Single(batch.Changes);
        Assert.Equal(("c", "p", "a", 2L, "{}", false), (change.Component, change.PartitionKey, change.Id, change.Sequence, System.Text.Encoding.UTF8.GetString(change.Value), change.Remove));
        Assert.Equal(("c", 9UL, 2L, 5L), (change.Request!.ClientId, change.Request.ClientSequence, change.Request.LastSequence, change.Request.RecordedAtMs));
        Assert.Equal(request.Results, change.Request.Results);
        var chunk = readRecords[1].Chunk!;
        Assert.Equal((3, 4L, 7L, true), (chunk.Partition, chunk.Epoch, chunk.SnapshotSequence, chunk.Last));
        Assert.True(Assert.Single(chunk.Items).Remove);
        Assert.Equal("c", Assert.Single(chunk.Requests).ClientId);
    }

    [Fact]
    public async Task Client_OwnSilo_ReplicateAnswersAndMapChangedCompletesOnceTheMapIsFollowed()
    {
        var client = fixture.Silo.Services.GetRequiredService<IReplicaServiceClient>();
        var identity = fixture.Silo.Services.GetRequiredService<SiloIdentity>();
        var service = client.GetService(identity.OrleansAddress);

        var acks = await service.ReplicateAsync("test", []).WaitAsync(TimeSpan.FromSeconds(10));
        await service.MapChangedAsync("test").WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(acks);
    }
}
