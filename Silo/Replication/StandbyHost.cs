using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Transport;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// This silo's standby replicas: the warm copies of partitions other silos lead. Records arrive
/// on silo-to-silo connections and are applied on the connection's read loop (in order), and the
/// acknowledgement goes back on the same connection.
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

    /// <summary>A consistent copy of partition <paramref name="partitionId"/>'s warm items, or null when this silo holds none.</summary>
    public Partitions.WarmCopy? Copy(int partitionId)
    {
        if (!_replicas.TryGetValue(partitionId, out var replica))
        {
            return null;
        }

        // Records are applied under this lock, so the copy and its applied sequence agree.
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

    /// <summary>Drops partition <paramref name="partitionId"/>'s copy: this silo became its primary at <paramref name="epoch"/>.</summary>
    public void Remove(int partitionId, long epoch)
    {
        _ledFrom[partitionId] = epoch;
        _replicas.TryRemove(partitionId, out _);
    }

    public void Register(SiloMessageRouter router)
    {
        router.Register(MessageType.ReplicationBatch, (FramedConnection connection, in Frame frame) =>
        {
            var batch = ReplicationBatch.Parser.ParseFrom(frame.Body);
            Apply(connection, batch.Partition, batch.Epoch, replica => replica.Apply(batch));
        });
        router.Register(MessageType.SnapshotChunk, (FramedConnection connection, in Frame frame) =>
        {
            var chunk = SnapshotChunk.Parser.ParseFrom(frame.Body);
            Apply(connection, chunk.Partition, chunk.Epoch, replica => replica.Install(chunk));
        });
    }

    private void Apply(FramedConnection connection, int partitionId, long epoch, Func<StandbyReplica, StandbyApplyResult> apply)
    {
        if (_ledFrom.TryGetValue(partitionId, out var ledFrom) && epoch < ledFrom)
        {
            // Tell the sender it was deposed (an ack of a higher epoch); keep no copy of its records.
            connection.TrySend(MessageType.ReplicationAck, 0, new ReplicationAck { Partition = partitionId, Epoch = ledFrom });
            return;
        }

                var replica = _replicas.GetOrAdd(partitionId, static (id, options) => new StandbyReplica(id, options), _options);
        ReplicationAck ack;

        // Records of one partition may come from two primaries briefly (old and new epoch) on two
        // connections; the replica is single-threaded, and this lock is never held across an await.
        lock (replica)
        {
            if (_ledFrom.TryGetValue(partitionId, out ledFrom) && epoch < ledFrom)
            {
                // Promoted here while this record waited for the lock: its table belongs to the new primary.
                connection.TrySend(MessageType.ReplicationAck, 0, new ReplicationAck { Partition = partitionId, Epoch = ledFrom });
                return;
            }

            StandbyApplyResult result;
            try
            {
                result = apply(replica);
            }
            catch (Exception ex)
            {
                LogApplyFailed(partitionId, connection.Peer?.ToString() ?? "?", replica.AppliedSequence, ex);
                result = StandbyApplyResult.Gap;
            }

            ack = replica.CreateAck(result is StandbyApplyResult.Gap or StandbyApplyResult.NeedsSnapshot);
        }

        connection.TrySend(MessageType.ReplicationAck, 0, ack);
    }

    [LoggerMessage(EventId = ReplicationLogEvents.StandbyApplyFailed, Level = LogLevel.Error, Message = "Partition {Partition}: applying a record from primary {Primary} failed at applied sequence {Applied}; the standby asks to be caught up again.")]
    private partial void LogApplyFailed(int partition, string primary, long applied, Exception exception);
}
