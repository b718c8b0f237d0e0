using Microsoft.Extensions.Logging;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Transport;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// A replica link to a standby on another silo, over the silo-to-silo transport. The queue is the
/// connection's bounded send queue (shared by the partitions replicating to that silo): a live
/// batch that does not fit marks the link out of sync. Acks arrive through <see cref="ReplicationRouting"/>.
/// </summary>
internal sealed class NetworkReplicaLink : ReplicaLink
{
    private readonly SiloConnectionPool _pool;
    private readonly string _endpoint;

    // Set by the worker (PrepareTransportAsync) once connected; read by the commit loop's TrySend.
    private volatile FramedConnection? _connection;

    public NetworkReplicaLink(SiloConnectionPool pool, SiloIncarnation standby, string endpoint, ReplicationOptions options, ILogger logger, TimeProvider time)
        : base(standby.ToString(), options, logger, time)
    {
        _pool = pool;
        Standby = standby;
        _endpoint = endpoint;
    }

    /// <summary>The standby silo incarnation this link feeds.</summary>
    public SiloIncarnation Standby { get; }

    // Unknown until the standby acks: stream from the start of the log (or by snapshot); the
    // standby skips what it has, and asks for a snapshot if it follows another history.
    protected override (long AppliedSequence, long Epoch) GetStandbyPosition() => (0, 0);

    protected override bool TryEnqueue(in ReplicationMessage message)
    {
        var connection = _connection;
        if (connection is null || connection.Closed.IsCompleted)
        {
            return false;
        }

        return message.Batch is not null
            ? connection.TrySend(MessageType.ReplicationBatch, 0, message.Batch)
            : connection.TrySend(MessageType.SnapshotChunk, 0, message.Chunk!);
    }

    protected override bool IsTransportReady => _connection is { Closed.IsCompleted: false };

    protected override async ValueTask PrepareTransportAsync(CancellationToken cancellationToken)
    {
        if (!IsTransportReady)
        {
            _connection = await _pool.GetAsync(Standby, _endpoint, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async ValueTask EnqueueAsync(ReplicationMessage message, CancellationToken cancellationToken)
    {
        await PrepareTransportAsync(cancellationToken).ConfigureAwait(false);
        var connection = _connection!;
        if (message.Batch is not null)
        {
            await connection.SendAsync(MessageType.ReplicationBatch, 0, message.Batch, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await connection.SendAsync(MessageType.SnapshotChunk, 0, message.Chunk!, cancellationToken).ConfigureAwait(false);
        }
    }
}
