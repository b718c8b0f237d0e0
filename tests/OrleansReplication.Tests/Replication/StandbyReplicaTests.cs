using System.Text;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Tests.Replication;

public sealed class StandbyReplicaTests
{
    private const int PartitionId = 3;

    [Fact]
    public void Apply_BatchesInOrder_AppliesAndAdvances()
    {
        var standby = new StandbyReplica(PartitionId);

        Assert.Equal(StandbyApplyResult.Applied, standby.Apply(Batch(1, Set("a", 1), Set("b", 2))));
        Assert.Equal(StandbyApplyResult.Applied, standby.Apply(Batch(1, Set("a", 3), Remove("b", 4))));

        Assert.Equal(4, standby.AppliedSequence);
        Assert.Equal(1, standby.Epoch);
        Assert.Equal(3, Get(standby, "a")!.Version);
        Assert.Equal("\"a3\"", Encoding.UTF8.GetString(Get(standby, "a")!.Json));
        Assert.Null(Get(standby, "b"));
    }

    [Fact]
    public void Apply_BatchAfterAGap_IsRefusedAndNothingApplied()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(1, Set("a", 1)));

        var result = standby.Apply(Batch(1, Set("b", 3), Set("c", 4)));

        Assert.Equal(StandbyApplyResult.Gap, result);
        Assert.Equal(1, standby.AppliedSequence);
        Assert.Null(Get(standby, "b"));
        Assert.True(standby.CreateAck(refused: true).CatchUpRequested);
    }

    [Fact]
    public void Apply_GapInsideTheBatch_IsRefusedWhole()
    {
        var standby = new StandbyReplica(PartitionId);

        var result = standby.Apply(Batch(1, Set("a", 1), Set("b", 3)));

        Assert.Equal(StandbyApplyResult.Gap, result);
        Assert.Equal(0, standby.AppliedSequence);
        Assert.Null(Get(standby, "a"));
    }

    [Fact]
    public void Apply_LowerEpoch_IsRefused()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(5, Set("a", 1)));

        var result = standby.Apply(Batch(4, Set("a", 2)));

        Assert.Equal(StandbyApplyResult.StaleEpoch, result);
        Assert.Equal(1, standby.AppliedSequence);
        Assert.Equal(1, Get(standby, "a")!.Version);
        Assert.Equal(5, standby.CreateAck(refused: false).Epoch);
    }

    [Fact]
    public void Apply_OverlappingBatch_SkipsWhatWasAppliedAndAppliesTheRest()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(1, Set("a", 1), Set("a", 2)));

        Assert.Equal(StandbyApplyResult.Duplicate, standby.Apply(Batch(1, Set("a", 1), Set("a", 2))));
        Assert.Equal(StandbyApplyResult.Applied, standby.Apply(Batch(1, Set("a", 2), Set("b", 3))));

        Assert.Equal(3, standby.AppliedSequence);
        Assert.Equal(2, Get(standby, "a")!.Version);
        Assert.Equal(3, Get(standby, "b")!.Version);
    }

    [Fact]
    public void Apply_HigherEpochOnTopOfAHistory_NeedsSnapshotAndAppliesNothing()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(1, Set("a", 1)));

        var result = standby.Apply(Batch(2, Set("b", 2)));

        Assert.Equal(StandbyApplyResult.NeedsSnapshot, result);
        Assert.Equal(1, standby.Epoch);
        Assert.Null(Get(standby, "b"));
    }

    [Fact]
    public void Apply_OtherPartition_IsIgnored()
    {
        var standby = new StandbyReplica(PartitionId);
        var batch = new ReplicationBatch { Partition = PartitionId + 1, Epoch = 1, Changes = [Set("a", 1)] };

        Assert.Equal(StandbyApplyResult.Ignored, standby.Apply(batch));
        Assert.Equal(0, standby.AppliedSequence);
    }

    [Fact]
    public void Install_ChunksThenLast_ReplacesTheCopyAtTheSnapshotSequenceThenStreamContinues()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(1, Set("old", 1)));

        Assert.Equal(StandbyApplyResult.Staged, standby.Install(Chunk(2, 40, last: false, Set("x", 12), Set("y", 30))));

        // Staged only: the copy still answers as before.
        Assert.NotNull(Get(standby, "old"));
        Assert.Null(Get(standby, "x"));
        Assert.Equal(1, standby.AppliedSequence);

        Assert.Equal(StandbyApplyResult.Applied, standby.Install(Chunk(2, 40, last: true, Set("z", 40))));

        Assert.Equal(40, standby.AppliedSequence);
        Assert.Equal(2, standby.Epoch);
        Assert.Null(Get(standby, "old"));
        Assert.Equal(12, Get(standby, "x")!.Version);
        Assert.Equal(3, standby.Items.Count);

        Assert.Equal(StandbyApplyResult.Gap, standby.Apply(Batch(2, Set("x", 42))));
        Assert.Equal(StandbyApplyResult.Applied, standby.Apply(Batch(2, Set("x", 41))));
        Assert.Equal(41, Get(standby, "x")!.Version);
    }

    [Fact]
    public void Install_LowerEpoch_IsRefused()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(3, Set("a", 1)));

        Assert.Equal(StandbyApplyResult.StaleEpoch, standby.Install(Chunk(2, 10, last: true, Set("b", 5))));
        Assert.Equal(1, standby.AppliedSequence);
        Assert.Null(Get(standby, "b"));
    }

    [Fact]
    public void CreateAck_RepeatedRefusalsAtOneSequence_AskForCatchUpOnce()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(1, Set("a", 1)));
        standby.Apply(Batch(1, Set("a", 5)));

        Assert.True(standby.CreateAck(refused: true).CatchUpRequested);
        Assert.False(standby.CreateAck(refused: true).CatchUpRequested);

        standby.Apply(Batch(1, Set("b", 2)));
        Assert.True(standby.CreateAck(refused: true).CatchUpRequested);
    }

    [Fact]
    public void Tail_KeepsAppliedChangesWithTheirPreviousVersions_WithinTheRetentionBound()
    {
        var standby = new StandbyReplica(PartitionId, new ReplicationOptions { LogRetainedChanges = 3 });
        standby.Apply(Batch(1, Set("a", 1), Set("a", 2)));
        Assert.Equal([(1L, 0L, false), (2L, 1L, false)], Entries(standby.Tail));

        standby.Apply(Batch(1, Set("a", 2), Remove("a", 3), Set("b", 4)));
        standby.Apply(Batch(1, Set("b", 5)));

        // Only the bound's newest changes stay; the tail's history still starts at 1 (evicted, not restarted).
        var tail = standby.Tail;
        Assert.Equal(1, tail.StartSequence);
        Assert.Equal([(3L, 2L, true), (4L, 0L, false), (5L, 4L, false)], Entries(tail));
        Assert.Same(Get(standby, "b")!.Json, tail.Entries[^1].Value);
    }

    [Fact]
    public void Tail_SnapshotInstalled_RestartsAfterTheSnapshotSequence()
    {
        var standby = new StandbyReplica(PartitionId);
        standby.Apply(Batch(1, Set("a", 1), Remove("a", 2)));

        standby.Install(Chunk(2, 40, last: true, Set("z", 40)));
        Assert.Equal(41, standby.Tail.StartSequence);
        Assert.Empty(standby.Tail.Entries);

        standby.Apply(Batch(2, Remove("z", 41)));
        Assert.Equal(41, standby.Tail.StartSequence);
        Assert.Equal([(41L, 40L, true)], Entries(standby.Tail));
    }

    private static List<(long Sequence, long PreviousVersion, bool Removed)> Entries(LogTail tail) =>
        [.. tail.Entries.Select(e => (e.Sequence, e.PreviousVersion, e.Value is null))];

    private static ItemEntry? Get(StandbyReplica standby, string id) => standby.Items.Get(new ItemAddress("c", string.Empty, id));

    private static ReplicationBatch Batch(long epoch, params ReplicatedChange[] changes)
    {
        var batch = new ReplicationBatch { Partition = PartitionId, Epoch = epoch };
        batch.Changes.AddRange(changes);
        return batch;
    }

    private static SnapshotChunk Chunk(long epoch, long sequence, bool last, params ReplicatedChange[] items)
    {
        var chunk = new SnapshotChunk { Partition = PartitionId, Epoch = epoch, SnapshotSequence = sequence, Last = last };
        chunk.Items.AddRange(items);
        return chunk;
    }

    private static ReplicatedChange Set(string id, long sequence) => new()
    {
        Component = "c",
        Id = id,
        Sequence = sequence,
        Value = Encoding.UTF8.GetBytes($"\"{id}{sequence}\""),
    };

    private static ReplicatedChange Remove(string id, long sequence) => new() { Component = "c", Id = id, Sequence = sequence, Remove = true };
}
