using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// This silo's standby replicas: the warm copies of partitions other silos lead. Records arrive
/// in calls to this silo's <see cref="ReplicaService"/> (one call per primary silo at a time) and
/// are applied in order; the acknowledgements are the call's answer.
/// </summary>
internal sealed partial class StandbyHost(ILogger<StandbyHost> logger, IOptions<ReplicationOptions>? options = null)
{
    private readonly ReplicationOptions _options = options?.Value ?? new ReplicationOptions();

    private readonly ConcurrentDictionary<int, StandbyReplica> _replicas = new();

    // Partitions this silo leads, by the epoch it took them at: a record of a lower epoch comes from
    // a deposed primary (e.g. resumed after SIGSTOP) and must not seed a new copy here whose acks
    // would let that primary acknowledge a write the new primary never saw.
    private readonly ConcurrentDictionary<int, long> _ledFrom = new();
    private readonly ILogger _logger = logger;

    /// <summary>The warm copy of <paramref name="partitionId"/>, if this silo holds one.</summary>
    public StandbyReplica? Find(int partitionId) => _replicas.GetValueOrDefault(partitionId);

    public IEnumerable<StandbyReplica> Replicas => _replicas.Values;

    /// <summary>
    /// A consistent copy of partition <paramref name="partitionId"/>'s warm items for this silo's
    /// promotion to its primary at <paramref name="epoch"/>, or null when this silo holds none.
    /// The copy is fenced first: from now on records of older epochs are refused (their sender
    /// learns it was deposed). A deposed primary that still streams (resumed after a pause) could
    /// otherwise have a write acknowledged by this standby after the copy was taken, and the new
    /// primary, started from the copy, would give that write's sequence to another change.
    /// </summary>
    public Partitions.WarmCopy? Copy(int partitionId, long epoch)
    {
        _ledFrom.AddOrUpdate(partitionId, epoch, (_, known) => Math.Max(known, epoch));
        if (!_replicas.TryGetValue(partitionId, out var replica))
        {
            return null;
        }

        // Records are applied under this lock and re-check the fence there, so the copy and its
        // applied sequence agree, and nothing is applied (or acknowledged) after it.
        lock (replica)
        {
            var items = new List<KeyValuePair<Partitions.ItemAddress, Partitions.ItemEntry>>(replica.Items.Count);
            replica.Items.CopyTo(items);
            var applied = replica.AppliedSequence;
            return new Partitions.WarmCopy(items, applied, replica.Epoch, replica.Requests) { Adopt = epoch => Adopt(replica, applied, epoch), Tail = replica.Tail };
        }
    }

    // Under the replica's lock, as records are applied: the table handed over is the one at
    // `applied`, and no record reaches it afterwards (Apply re-checks _ledFrom under this lock).
    private Partitions.ItemTable? Adopt(StandbyReplica replica, long applied, long epoch)
    {
        lock (replica)
        {
            if (replica.AppliedSequence != applied || replica.InstallingSnapshot || !_replicas.TryGetValue(replica.PartitionId, out var current) || current != replica)
            {
                return null;
            }

            Remove(replica.PartitionId, epoch);
            return replica.Items;
        }
    }

    /// <summary>Test hook: changes an item of this silo's warm copy of <paramref name="partitionId"/> behind the replication's back.</summary>
    internal bool CorruptForTesting(int partitionId, Partitions.ItemAddress address, long version, byte[]? json)
    {
        if (!_replicas.TryGetValue(partitionId, out var replica))
        {
            return false;
        }

        lock (replica)
        {
            replica.CorruptForTesting(address, version, json);
            return true;
        }
    }

    /// <summary>Drops partition <paramref name="partitionId"/>'s copy: this silo became its primary at <paramref name="epoch"/>.</summary>
    public void Remove(int partitionId, long epoch)
    {
        _ledFrom[partitionId] = epoch;
        _replicas.TryRemove(partitionId, out _);
    }

    /// <summary>
    /// Applies the records one primary silo sent in one call, in order, and answers the acks: one
    /// per record, except that an ack that only moves a partition's watermarks replaces the
    /// previous one of that partition (the later one covers it), so a call answers about one ack
    /// per partition. An ack that asks for catch-up or answers an anti-entropy check is never replaced.
    /// </summary>
    public ReplicationAck[] Apply(string primary, ReadOnlySpan<ReplicationMessage> records)
    {
        if (records.Length == 0)
        {
            return [];
        }

        var acks = new List<ReplicationAck>(Math.Min(records.Length, 16));
        foreach (ref readonly var record in records)
        {
            var ack = record.Batch is { } batch
                ? Apply(primary, batch.Partition, batch.Epoch, batch, null)
                : Apply(primary, record.Chunk!.Partition, record.Chunk.Epoch, null, record.Chunk);
            var replaced = false;
            for (var i = acks.Count - 1; i >= 0; i--)
            {
                if (acks[i].Partition == ack.Partition)
                {
                    if (!acks[i].CatchUpRequested && acks[i].Digest is null && acks[i].Epoch == ack.Epoch)
                    {
                        acks[i] = ack;
                        replaced = true;
                    }

                    break;
                }
            }

            if (!replaced)
            {
                acks.Add(ack);
            }
        }

        return [.. acks];
    }

    private ReplicationAck Apply(string primary, int partitionId, long epoch, ReplicationBatch? batch, SnapshotChunk? chunk)
    {
        if (_ledFrom.TryGetValue(partitionId, out var ledFrom) && epoch < ledFrom)
        {
            // Tell the sender it was deposed (an ack of a higher epoch); keep no copy of its records.
            return new ReplicationAck { Partition = partitionId, Epoch = ledFrom };
        }

        var replica = _replicas.GetOrAdd(partitionId, static (id, options) => new StandbyReplica(id, options), _options);

        // Records of one partition may come from two primaries briefly (old and new epoch) in two
        // calls; the replica is single-threaded, and this lock is never held across an await.
        lock (replica)
        {
            if (_ledFrom.TryGetValue(partitionId, out ledFrom) && epoch < ledFrom)
            {
                // Promoted here while this record waited for the lock: its table belongs to the new primary.
                return new ReplicationAck { Partition = partitionId, Epoch = ledFrom };
            }

            StandbyApplyResult result;
            try
            {
                result = batch is not null ? replica.Apply(batch) : replica.Install(chunk!);
            }
            catch (Exception ex)
            {
                LogApplyFailed(partitionId, primary, replica.AppliedSequence, ex);
                result = StandbyApplyResult.Gap;
            }

            return replica.CreateAck(result is StandbyApplyResult.Gap or StandbyApplyResult.NeedsSnapshot);
        }
    }

    [LoggerMessage(EventId = ReplicationLogEvents.StandbyApplyFailed, Level = LogLevel.Error, Message = "Partition {Partition}: applying a record from primary {Primary} failed at applied sequence {Applied}; the standby asks to be caught up again.")]
    private partial void LogApplyFailed(int partition, string primary, long applied, Exception exception);
}
