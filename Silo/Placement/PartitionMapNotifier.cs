using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Tells peers the partition map changed, so a promotion or handoff is taken up at once instead
/// of at each silo's next map tick; and, on the receiving side, wakes this silo's map loop and
/// answers once it followed the new map (a handoff waits for that before it redirects clients).
/// Both sides are one awaited call to the peer's <see cref="IReplicaService"/>.
/// </summary>
internal sealed partial class PartitionMapNotifier(IReplicaServiceClient replicaServices, SiloIdentity identity, ILogger<PartitionMapNotifier> logger)
{
    // Peers' calls waiting for this silo to follow the map: completed by the map loop after a round.
    private readonly ConcurrentQueue<TaskCompletionSource> _pendingReplies = new();
    private readonly ILogger _logger = logger;

    /// <summary>Set when a peer said the map changed; the map loop waits on it.</summary>
    public AsyncSignal Changed { get; } = new();

    /// <summary>A peer changed the map: wake the map loop; completes once a round of it followed the map.</summary>
    public Task FollowAsync()
    {
        var followed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pendingReplies.Enqueue(followed);
        Changed.Set();
        return followed.Task;
    }

    /// <summary>The peers waiting for an answer now; answer them with <see cref="AnswerFollowed"/> after following the map.</summary>
    public List<TaskCompletionSource> TakePendingReplies()
    {
        var taken = new List<TaskCompletionSource>();
        while (_pendingReplies.TryDequeue(out var reply))
        {
            taken.Add(reply);
        }

        return taken;
    }

    /// <summary>Puts answers back for the next round (this one failed to follow the map).</summary>
    public void Requeue(List<TaskCompletionSource> replies)
    {
        foreach (var reply in replies)
        {
            _pendingReplies.Enqueue(reply);
        }
    }

    public static void AnswerFollowed(List<TaskCompletionSource> replies)
    {
        foreach (var reply in replies)
        {
            reply.TrySetResult();
        }
    }

    /// <summary>Tells every live peer the map changed (not awaited: a peer that misses it re-reads at its next tick).</summary>
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
        if (peer.Silo is not { } silo)
        {
            return false;
        }

        try
        {
            await replicaServices.GetService(silo).MapChangedAsync(identity.Address.ToString()).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex)
        {
            // A dead or slow peer, a call that timed out, a stop: it re-reads the map at its next tick.
            LogNotifyFailed(peer.Address.ToString(), ex.Message);
            return false;
        }
    }

    [LoggerMessage(EventId = LogEvents.MapNotifyFailed, Level = LogLevel.Debug, Message = "Silo {Silo} was not told of a partition map change ({Reason}); it re-reads the map at its next tick.")]
    private partial void LogNotifyFailed(string silo, string reason);
}
