using Orleans;
using Orleans.Concurrency;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Primary to standby: changes of one partition with contiguous sequence numbers, in order, tagged
/// with the primary's epoch. A standby applies a batch only when its first change follows its
/// applied sequence (changes it already has are skipped); it never applies a gap, and it refuses
/// a lower epoch than its own, so a deposed primary never gets a change applied or acknowledged.
/// Not changed once handed to a link.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ReplicationBatch")]
internal sealed class ReplicationBatch
{
    [Id(0)]
    public int Partition { get; init; }

    [Id(1)]
    public long Epoch { get; init; }

    [Id(2)]
    public List<ReplicatedChange> Changes { get; init; } = [];

    /// <summary>Anti-entropy: the primary's root hash right after the last change (a batch without changes: at the applied sequence).</summary>
    [Id(3)]
    public DigestCheck? Check { get; init; }

    /// <summary>Anti-entropy: clumps to repair, right after the last change (a batch without changes: at the applied sequence).</summary>
    [Id(4)]
    public ClumpRepair? Repair { get; init; }
}

/// <summary>
/// Primary to standby: one piece of a snapshot of the whole partition, consistent at
/// <see cref="SnapshotSequence"/>. Items carry their version in their sequence. The standby stages
/// the chunks and, at the one marked <see cref="Last"/>, replaces its copy and sets its applied
/// sequence to <see cref="SnapshotSequence"/>; the stream then continues after it.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.SnapshotChunk")]
internal sealed class SnapshotChunk
{
    [Id(0)]
    public int Partition { get; init; }

    [Id(1)]
    public long Epoch { get; init; }

    [Id(2)]
    public long SnapshotSequence { get; init; }

    [Id(3)]
    public List<ReplicatedChange> Items { get; init; } = [];

    [Id(4)]
    public bool Last { get; set; }

    /// <summary>The partition's recorded requests (idempotency ids) as of the snapshot, oldest first, spread over the chunks after the items.</summary>
    [Id(5)]
    public List<ReplicatedRequest> Requests { get; init; } = [];

    /// <summary>
    /// Names this snapshot (random, never 0): the standby reports the last one it installed, which
    /// is how the primary knows the copy was replaced when the snapshot leaves its sequence as it was
    /// (an anti-entropy resync of a diverged standby).
    /// </summary>
    [Id(6)]
    public long SnapshotId { get; init; }
}

/// <summary>Standby to primary, after it applied records (one ack may cover many batches of its partition).</summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ReplicationAck")]
internal readonly record struct ReplicationAck
{
    [Id(0)]
    public int Partition { get; init; }

    /// <summary>The epoch the standby follows; above the primary's own, it tells the primary it was deposed.</summary>
    [Id(1)]
    public long Epoch { get; init; }

    /// <summary>Everything up to here is queued on the standby.</summary>
    [Id(2)]
    public long ReceivedSequence { get; init; }

    /// <summary>Everything up to here is applied to the standby's warm copy.</summary>
    [Id(3)]
    public long AppliedSequence { get; init; }

    /// <summary>
    /// The standby refused a record (a gap, or a new epoch on top of another history) and needs the
    /// primary to catch it up from <see cref="AppliedSequence"/> + 1 (from the log, or by a snapshot).
    /// </summary>
    [Id(4)]
    public bool CatchUpRequested { get; init; }

    /// <summary>The answer to an anti-entropy check or repair in the records this ack covers; such an ack is never merged away.</summary>
    [Id(5)]
    public DigestAnswer? Digest { get; init; }

    /// <summary>The <see cref="SnapshotChunk.SnapshotId"/> of the last snapshot the standby installed; 0 if none.</summary>
    [Id(6)]
    public long InstalledSnapshot { get; init; }
}

/// <summary>A record queued to a standby: a batch of changes or a snapshot chunk, with its approximate size.</summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ReplicationMessage")]
internal readonly record struct ReplicationMessage
{
    public ReplicationMessage(ReplicationBatch? batch, SnapshotChunk? chunk, int bytes)
    {
        Batch = batch;
        Chunk = chunk;
        Bytes = bytes;
    }

    [Id(0)]
    public ReplicationBatch? Batch { get; init; }

    [Id(1)]
    public SnapshotChunk? Chunk { get; init; }

    /// <summary>Approximate bytes the record keeps alive in a queue, for the queue's bound (it travels along: one varint).</summary>
    [Id(2)]
    public int Bytes { get; init; }
}
