using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// The primary's view of one standby of one partition. The commit loop hands every batch of
/// applied changes to <see cref="Send"/>; acks flow back through <see cref="OnAck"/>. A link whose
/// queue overflows (or whose standby stops acknowledging) leaves the in-sync set, so writes never
/// wait for it, and is caught up from the primary's log or by a snapshot.
/// </summary>
internal interface IReplicaLink : IAsyncDisposable
{
    /// <summary>The standby's name, for logs and diagnostics.</summary>
    string Name { get; }

    /// <summary>Where the link is: catching up, streaming (in sync), deposed, closed.</summary>
    ReplicaLinkState State { get; }

    /// <summary>Whether the standby counts for the Received and Applied safety levels: it receives the live stream and keeps up.</summary>
    bool InSync { get; }

    /// <summary>Everything up to here was handed to the transport for the standby.</summary>
    long SentSequence { get; }

    /// <summary>Everything up to here is queued on the standby (in this epoch).</summary>
    long ReceivedSequence { get; }

    /// <summary>Everything up to here is applied to the standby's warm copy (in this epoch).</summary>
    long AppliedSequence { get; }

    /// <summary>How many snapshots this link sent.</summary>
    int SnapshotsSent { get; }

    /// <summary>How many times this link caught its standby up from the log alone (without a snapshot).</summary>
    int LogCatchUps { get; }

    /// <summary>Starts the link for <paramref name="source"/>'s partition: it catches the standby up, then streams. Called once, by <see cref="Partition.AddLink"/>.</summary>
    void Attach(IReplicationSource source);

    /// <summary>
    /// Commit loop only: hands one batch of contiguous changes to the standby without blocking. A
    /// link that is catching up ignores it (it reads the log); a full queue marks the link out of sync.
    /// </summary>
    void Send(ReplicationBatch batch);

    /// <summary>An acknowledgement from the standby (any thread).</summary>
    void OnAck(ReplicationAck ack);

    /// <summary>
    /// Commit loop only, between batches: queues an anti-entropy check or repair (a batch without
    /// changes) for a streaming standby that was sent everything up to <paramref name="sequence"/>
    /// (the partition's last). False when the standby is not there (catching up) or its queue is full.
    /// </summary>
    bool TrySendAntiEntropy(ReplicationBatch record, long sequence);

    /// <summary>Takes the standby out of the in-sync set and replaces its copy with a snapshot (it kept diverging).</summary>
    void Resync(string reason);
}

/// <summary>Where a replica link is in its life.</summary>
internal enum ReplicaLinkState
{
    /// <summary>Not in sync: the link's worker sends the log (or a snapshot) until the standby reaches the live stream.</summary>
    CatchingUp,

    /// <summary>In sync: the commit loop's batches go straight to the standby's queue.</summary>
    Streaming,

    /// <summary>The standby follows a higher epoch: this primary was deposed; nothing more is sent.</summary>
    Deposed,

    /// <summary>Disposed.</summary>
    Closed,
}

/// <summary>What a replica link needs from the primary's partition.</summary>
internal interface IReplicationSource
{
    /// <summary>The partition.</summary>
    int PartitionId { get; }

    /// <summary>The epoch the primary leads the partition in; every record carries it.</summary>
    long Epoch { get; }

    /// <summary>The partition's retained changes.</summary>
    ReplicationLog Log { get; }

    /// <summary>Takes a snapshot consistent at a sequence number N, pinning the log from N + 1.</summary>
    Task<PartitionSnapshot> CaptureSnapshotAsync(CancellationToken cancellationToken);

    /// <summary>A link's sync state or watermarks changed: recompute the safety-level watermarks.</summary>
    void OnLinkChanged(IReplicaLink link);

    /// <summary>The standby answered an anti-entropy check or repair (any thread).</summary>
    void OnAntiEntropyAnswer(IReplicaLink link, DigestAnswer answer);
}

/// <summary>
/// The partition's items as they were at <see cref="Sequence"/> (entries are immutable, so the
/// list holds references only), with the log pinned from <see cref="Sequence"/> + 1 so the stream
/// can continue where the snapshot ends. The taker owns the pin.
/// </summary>
internal sealed class PartitionSnapshot(long sequence, List<KeyValuePair<ItemAddress, ItemEntry>> items, ReplicationLog.Pin pin, IReadOnlyList<RecordedRequest>? requests = null)
{
    public long Sequence { get; } = sequence;

    public List<KeyValuePair<ItemAddress, ItemEntry>> Items { get; } = items;

    /// <summary>The requests with idempotency ids the partition remembers at <see cref="Sequence"/> that changed something, oldest first.</summary>
    public IReadOnlyList<RecordedRequest> Requests { get; } = requests ?? [];

    public ReplicationLog.Pin Pin { get; } = pin;
}
