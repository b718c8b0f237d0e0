using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// A replica link to a standby on another silo, over Orleans messaging. The queue is the
/// <see cref="StandbySender"/> of the standby's silo, shared by every partition replicating there:
/// a live batch that does not fit marks the link out of sync, and so does a failed call. Acks
/// arrive as the answers of the sender's calls.
/// </summary>
internal sealed class NetworkReplicaLink : ReplicaLink
{
    private readonly StandbySender _sender;

    public NetworkReplicaLink(StandbySender sender, SiloIncarnation standby, ReplicationOptions options, ILogger logger, TimeProvider time)
        : base(standby.ToString(), options, logger, time)
    {
        ArgumentNullException.ThrowIfNull(sender);
        _sender = sender;
        Standby = standby;
    }

    /// <summary>The standby silo incarnation this link feeds.</summary>
    public SiloIncarnation Standby { get; }

    /// <summary>The sender's call failed: the records on their way are lost.</summary>
    internal void OnSenderBroken(string reason) => OnTransportBroken(reason);

    // Unknown until the standby acks: stream from the start of the log (or by snapshot); the
    // standby skips what it has, and asks for a snapshot if it follows another history.
    protected override (long AppliedSequence, long Epoch) GetStandbyPosition() => (0, 0);

    protected override void OnAttached() => _sender.Add(Source!.PartitionId, this);

    protected override bool TryEnqueue(in ReplicationMessage message) => _sender.TryEnqueue(message);

    protected override bool IsTransportReady => !_sender.Broken;

    protected override ValueTask PrepareTransportAsync(CancellationToken cancellationToken) => _sender.EnsureReachableAsync(cancellationToken);

    protected override ValueTask EnqueueAsync(ReplicationMessage message, CancellationToken cancellationToken) => _sender.EnqueueAsync(message, cancellationToken);

    protected override ValueTask DisposeTransportAsync()
    {
        if (Source is { } source)
        {
            _sender.Remove(source.PartitionId, this);
        }

        return ValueTask.CompletedTask;
    }
}
