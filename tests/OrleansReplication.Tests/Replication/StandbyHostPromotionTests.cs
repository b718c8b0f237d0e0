using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// The warm copy a promotion starts from is final: once taken for epoch e, this standby applies and
/// acknowledges no record of an older epoch. Nemesis seed 6010: a primary resumed after a pause
/// streamed on while its standby was being promoted; the standby acknowledged a write after its
/// copy was taken, and the new primary, started from the copy, gave that sequence to another write.
/// </summary>
public sealed class StandbyHostPromotionTests
{
    [Fact]
    public void Copy_ForANewEpoch_LaterRecordsOfTheOldPrimaryAreRefusedAsDeposed()
    {
        var host = new StandbyHost(NullLogger<StandbyHost>.Instance);
        var applied = host.Apply("old", [Record(epoch: 1, 1, 2)]);
        Assert.Equal((1L, 2L), (applied[0].Epoch, applied[0].AppliedSequence));

        var copy = host.Copy(0, epoch: 2);
        var late = host.Apply("old", [Record(epoch: 1, 3)]);

        Assert.NotNull(copy);
        Assert.Equal(2, copy.Applied);
        Assert.Equal(2, late[0].Epoch); // deposed: the old primary counts no acknowledgement from here
        Assert.Equal(2, host.Find(0)!.AppliedSequence);
        Assert.NotNull(copy.Adopt!(2)); // the copy is still the table: nothing moved it on
    }

    [Fact]
    public void Copy_NoReplicaHere_StillFencesTheOldEpoch()
    {
        var host = new StandbyHost(NullLogger<StandbyHost>.Instance);

        Assert.Null(host.Copy(0, epoch: 3));
        var late = host.Apply("old", [Record(epoch: 2, 1)]);

        Assert.Equal(3, late[0].Epoch);
        Assert.Null(host.Find(0)); // no copy seeded by a deposed primary
    }

    private static ReplicationMessage Record(long epoch, params long[] sequences) => new(
        new ReplicationBatch { Partition = 0, Epoch = epoch, Changes = [.. sequences.Select(s => new ReplicatedChange { Component = "c", Id = $"i{s}", Sequence = s, Value = "1"u8.ToArray() })] },
        null,
        100);
}
