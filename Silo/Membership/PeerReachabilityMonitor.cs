using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using OrleansReplication.Silo.Diagnostics;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// Pings every live peer's replica service once per probe timeout and declares dead
/// (<see cref="MembershipService.DeclareDeadAsync"/>, Orleans' TryKill) a peer that has answered nothing for
/// <see cref="MembershipOptions.UnreachablePeerDeathDelay"/> while others answer. Orleans' indirect
/// probes keep such a peer alive when only the link between two silos is broken, and then calls
/// between them (a gateway's to a primary, a primary's to a standby) hang for as long as the cut
/// lasts. Both ends see the broken link; the membership table's compare-and-swap makes only one of
/// them the victim (a silo read dead in the table kills nobody).
/// </summary>
internal sealed partial class PeerReachabilityMonitor(
    MembershipService membership,
    IReplicaServiceClient replicas,
    IOptions<MembershipOptions> options,
    TimeProvider time,
    ILogger<PeerReachabilityMonitor> logger) : BackgroundService
{
    private readonly ILogger _logger = logger;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = options.Value.EffectiveUnreachablePeerDeathDelay;
        if (delay == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var interval = options.Value.ProbeTimeout;
        var reachability = new PeerReachability(delay);
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var snapshot = membership.Current;
                var self = membership.Self;
                if (!snapshot.Silos.Any(s => s.Address == self && s.Status == SiloStatus.Active))
                {
                    continue; // joining, stopping or dead: not this silo's call
                }

                var peers = snapshot.Silos.Where(s => s.Status == SiloStatus.Active && s.Address != self && s.Silo is not null).ToList();
                var answers = await Task.WhenAll(peers.Select(p => AnswersAsync(p.Silo!, interval * 2, stoppingToken))).ConfigureAwait(false);
                var round = peers.Select((p, i) => (Peer: p.Address, Answered: answers[i])).ToList();
                foreach (var (peer, silent) in reachability.Record(round, time.GetTimestamp(), time))
                {
                    await DeclareDeadAsync(peer, silent, round.Where(r => r.Answered).Select(r => r.Peer)).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    // Whether the peer answered within the timeout. An error it sent back is an answer too (the
    // link works); only silence, a refused or broken connection, or Orleans' own timeout is not.
    private async Task<bool> AnswersAsync(SiloAddress peer, TimeSpan timeout, CancellationToken stoppingToken)
    {
        try
        {
            await replicas.GetService(peer).PingAsync().WaitAsync(timeout, time, stoppingToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException or OperationCanceledException)
        {
            return false;
        }
        catch (Exception)
        {
            return true;
        }
    }

    private async Task DeclareDeadAsync(SiloIncarnation peer, TimeSpan silent, IEnumerable<SiloIncarnation> answering)
    {
        try
        {
            await membership.DeclareDeadAsync(peer, $"it answered none of this silo's pings for {silent.TotalSeconds:0.0} s while {string.Join(", ", answering)} answered. " +
                "The link between the two is broken (a one-way network cut, a firewall rule) though both live, which Orleans' probes through other silos do not see; " +
                "calls across it would wait for as long as it lasts. Restart it once the network between the silos is whole").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The table did not answer (the store is down): the next round tries again.
            LogDeclareFailed(peer.ToString(), ex);
        }
    }

    [LoggerMessage(EventId = LogEvents.UnreachablePeerDeclareFailed, Level = LogLevel.Debug, Message = "Silo {Peer} is unreachable from this silo, but declaring it dead failed; the next round tries again.")]
    private partial void LogDeclareFailed(string peer, Exception exception);
}
