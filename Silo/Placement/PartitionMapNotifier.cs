using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Transport;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Tells peers the partition map changed, so a promotion or handoff is taken up at once instead
/// of at each silo's next map tick; and, on the receiving side, wakes this silo's map loop and
/// answers once it followed the new map (a handoff waits for that before it redirects clients).
/// </summary>
internal sealed partial class PartitionMapNotifier(SiloConnectionPool pool, SiloIdentity identity, ILogger<PartitionMapNotifier> logger)
{
    private readonly ConcurrentQueue<(FramedConnection Connection, ulong CorrelationId)> _pendingReplies = new();
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource> _awaited = new();
    private readonly ILogger _logger = logger;
    private long _nextCorrelation;

    /// <summary>Set when a peer said the map changed; the map loop waits on it.</summary>
    public AsyncSignal Changed { get; } = new();

    public void Register(SiloMessageRouter router)
    {
        router.Register(MessageType.PartitionMapChanged, (FramedConnection connection, in Frame frame) =>
        {
            _pendingReplies.Enqueue((connection, frame.CorrelationId));
            Changed.Set();
        });
        router.Register(MessageType.PartitionMapFollowed, (FramedConnection connection, in Frame frame) =>
        {
            if (_awaited.TryRemove(frame.CorrelationId, out var followed))
            {
                followed.TrySetResult();
            }
        });
    }

    /// <summary>The peers waiting for an answer now; answer them with <see cref="AnswerFollowed"/> after following the map.</summary>
    public List<(FramedConnection Connection, ulong CorrelationId)> TakePendingReplies()
    {
        var taken = new List<(FramedConnection, ulong)>();
        while (_pendingReplies.TryDequeue(out var reply))
        {
            taken.Add(reply);
        }

        return taken;
    }

    /// <summary>Puts answers back for the next round (this one failed to follow the map).</summary>
    public void Requeue(List<(FramedConnection Connection, ulong CorrelationId)> replies)
    {
        foreach (var reply in replies)
        {
            _pendingReplies.Enqueue(reply);
        }
    }

    public void AnswerFollowed(List<(FramedConnection Connection, ulong CorrelationId)> replies)
    {
        var followed = new PartitionMapFollowed { Silo = identity.Address.ToString() };
        foreach (var (connection, correlationId) in replies)
        {
            connection.TrySend(MessageType.PartitionMapFollowed, correlationId, followed);
        }
    }

    /// <summary>Tells every live peer the map changed (fire and forget: a peer that misses it re-reads at its next tick).</summary>
    public void NotifyAll(MembershipSnapshot membership)
    {
        foreach (var peer in membership.Silos)
        {
            if (peer.Address != identity.Address && peer.Status != SiloStatus.Dead)
            {
                _ = NotifyAsync(peer, TimeSpan.FromSeconds(2), CancellationToken.None);
            }
        }
    }

    /// <summary>Tells every live peer the map changed and waits until each follows it (or <paramref name="timeout"/>).</summary>
    public Task NotifyAllAndWaitAsync(MembershipSnapshot membership, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.WhenAll(membership.Silos
            .Where(peer => peer.Address != identity.Address && peer.Status != SiloStatus.Dead)
            .Select(peer => NotifyAsync(peer, timeout, cancellationToken)));

    /// <summary>Tells <paramref name="peer"/> the map changed; true once it answered that it follows the new map, false on timeout or error.</summary>
    public async Task<bool> NotifyAsync(SiloRecord peer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var correlationId = (ulong)Interlocked.Increment(ref _nextCorrelation);
        var followed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaited[correlationId] = followed;
        try
        {
            var connection = await pool.GetAsync(peer.Address, peer.SiloEndpoint, cancellationToken).ConfigureAwait(false);
            if (!connection.TrySend(MessageType.PartitionMapChanged, correlationId, new PartitionMapChanged { Silo = identity.Address.ToString() }))
            {
                return false;
            }

            await followed.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is ReplicaUnavailableException or TimeoutException or ObjectDisposedException or OperationCanceledException)
        {
            LogNotifyFailed(peer.Address.ToString(), ex.Message);
            return false;
        }
        finally
        {
            _awaited.TryRemove(correlationId, out _);
        }
    }

    [LoggerMessage(EventId = LogEvents.MapNotifyFailed, Level = LogLevel.Debug, Message = "Silo {Silo} was not told of a partition map change ({Reason}); it re-reads the map at its next tick.")]
    private partial void LogNotifyFailed(string silo, string reason);
}
