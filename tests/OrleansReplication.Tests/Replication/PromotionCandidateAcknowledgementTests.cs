using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// Applied is acknowledged by the standbys only while the one a failover would promote is in sync:
/// were it behind while another carried the writes, a failover would promote it without them
/// (nemesis seed 1000 lost writes so, a joiner beside an in-sync standby).
/// </summary>
public sealed class PromotionCandidateAcknowledgementTests : ReplicationHarness
{
    [Fact]
    public async Task Applied_CandidateBehindAnotherInSync_WaitsForTheStore()
    {
        var partition = await StartPartitionAsync();
        await WriteAsync(partition, SafetyLevel.Local, Set("before", "0")); // something to catch up on
        var behind = PausedStandby(partition, "candidate");
        await AddStandbyAsync(partition, "other");
        partition.SetPromotionCandidate("candidate");
        Store.Close();

        var write = WriteAsync(partition, SafetyLevel.Applied, Set("a", "1"));
        await Wait.UntilAsync(() => partition.LastSequence == 2 && Store.Waiting == 1, Deadline, "the write to be applied and its flush to wait at the store");

        Assert.False(behind.InSync);
        Assert.False(write.IsCompleted, "acknowledged while the standby a failover promotes lacks it and the store too");

        Store.Open();
        var result = (await write.WaitAsync(Deadline))[0];
        Assert.True(partition.DurableSequence >= result.Version);
        behind.Resume();
    }

    [Fact]
    public async Task Applied_CandidateInSync_AcknowledgedWithoutTheStore()
    {
        var partition = await StartPartitionAsync();
        await WriteAsync(partition, SafetyLevel.Local, Set("before", "0"));
        var behind = PausedStandby(partition, "joiner");
        var candidate = await AddStandbyAsync(partition, "candidate");
        partition.SetPromotionCandidate("candidate");
        Store.Close();

        var result = (await WriteAsync(partition, SafetyLevel.Applied, Set("a", "1")).WaitAsync(Deadline))[0];

        Assert.False(behind.InSync);
        Assert.Equal(result.Version, candidate.Standby.Items.Get(Address("a"))!.Version);
        Assert.True(partition.DurableSequence < result.Version);
        Store.Open();
        behind.Resume();
    }

    // A standby that cannot catch up (its link is paused before it starts), so it stays out of sync.
    private static InProcessReplicaLink PausedStandby(Partition partition, string name)
    {
        var options = new ReplicationOptions();
        var link = new InProcessReplicaLink(new StandbyReplica(partition.Id, options), name, options, NullLogger.Instance);
        link.Pause();
        partition.AddLink(link);
        return link;
    }
}
