using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Transport;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// Probes every live peer directly, over the silo-to-silo connection the replication streams use
/// (seed 003 heartbeats): a Ping every <see cref="MembershipOptions.ProbeInterval"/>. A broken or
/// refused connection (a crashed process answers with a reset at once) is suspected immediately,
/// and a broken one is reconnected at once: refused too, the peer is confirmed dead without delay;
/// a peer that leaves probes unanswered for <see cref="MembershipOptions.ProbeTimeout"/> (paused,
/// partitioned) is suspected then. A suspicion alone kills nobody: <see cref="MembershipService"/>
/// declares the peer dead only when the table confirms it (its IAmAlive stood still too).
/// </summary>
internal sealed partial class FailureDetector(
    MembershipService membership,
    SiloConnectionPool pool,
    SiloIdentity identity,
    IOptions<MembershipOptions> options,
    TimeProvider time,
    ILogger<FailureDetector> logger)
{
    private readonly ConcurrentDictionary<SiloIncarnation, PeerState> _peers = new();
    private readonly MembershipOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger = logger;
    private Task? _loop;

    /// <summary>Answers peers' probes and routes their answers here.</summary>
    public void Register(SiloMessageRouter router)
    {
        router.Register(MessageType.Ping, static (FramedConnection connection, in Frame frame) =>
            connection.TrySend(MessageType.Pong, frame.CorrelationId, Ping.Parser.ParseFrom(frame.Body)));
        router.Register(MessageType.Pong, (FramedConnection connection, in Frame frame) =>
        {
            if (connection.Peer is SiloIncarnation peer && _peers.TryGetValue(peer, out var state))
            {
                Volatile.Write(ref state.LastAnswer, time.GetTimestamp());
                if (membership.IsSuspected(peer))
                {
                    membership.ClearSuspicion(peer);
                }
            }
        });
    }

    public void Start() => _loop ??= Task.Run(LoopAsync, CancellationToken.None);

    /// <summary>
    /// When <paramref name="peer"/> last answered this silo's probes (at first: when it was reached), or null while it has not been
    /// reached yet (until then a refused connection does not count against it: see <see cref="ProbeAsync"/>).
    /// </summary>
    public DateTimeOffset? LastProbeAnswer(SiloIncarnation peer)
    {
        if (!_peers.TryGetValue(peer, out var state) || !state.Reached)
        {
            return null;
        }

        return time.GetUtcNow() - time.GetElapsedTime(Volatile.Read(ref state.LastAnswer));
    }

    public async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task LoopAsync()
    {
        var token = _stopping.Token;
        using var timer = new PeriodicTimer(_options.ProbeInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                ProbeAll();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round of probes (the loop's tick; tests call it with the loop parked).</summary>
    internal void ProbeAll()
    {
        var token = _stopping.Token;
        var now = time.GetTimestamp();
        var silos = membership.Current.Silos;
        foreach (var row in silos)
        {
            // A joining silo's ports open only once it loaded its partitions: probe it once it is active.
            if (row.Address == identity.Address || row.Status is SiloStatus.Dead or SiloStatus.Joining)
            {
                continue;
            }

            var state = _peers.GetOrAdd(row.Address, static (_, now) => new PeerState(now), now);
            var silent = time.GetElapsedTime(Volatile.Read(ref state.LastAnswer), now);
            if (silent >= _options.ProbeTimeout)
            {
                // A paused or starved silo: confirmed only by a heartbeat as stale as the probes.
                membership.Suspect(row.Address, $"it left probes unanswered for {(long)silent.TotalMilliseconds} ms", Max(_options.ProbeTimeout, _options.SuspicionConfirmTimeout));
            }

            ProbeNow(row, state, token);
        }

        foreach (var peer in _peers.Keys)
        {
            if (!silos.Any(s => s.Address == peer && s.Status != SiloStatus.Dead))
            {
                _peers.TryRemove(peer, out _);
            }
        }
    }

    /// <summary>Whether this silo holds an open probe connection to <paramref name="peer"/> (its break is watched).</summary>
    internal bool Watches(SiloIncarnation peer) =>
        _peers.TryGetValue(peer, out var state) && state.Connection is { } connection && !connection.Closed.IsCompleted;

    private void ProbeNow(SiloRecord peer, PeerState state, CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref state.Probing, 1, 0) == 0)
        {
            _ = ProbeAsync(peer, state, token);
        }
    }

    private async Task ProbeAsync(SiloRecord peer, PeerState state, CancellationToken token)
    {
        try
        {
            var connection = await pool.GetAsync(peer.Address, peer.SiloEndpoint, token).ConfigureAwait(false);
            if (!ReferenceEquals(connection, state.Connection))
            {
                state.Connection = connection;
                state.Reached = true;
                _ = SuspectWhenClosedAsync(peer, state, connection, token);
            }

            connection.TrySend(MessageType.Ping, 0, new Ping { Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds() });
        }
        catch (ReplicaUnavailableException ex) when (!token.IsCancellationRequested && state.Reached)
        {
            // Refused after it was reachable: the process is gone. (A silo just marked active may
            // not listen yet: until it was reached once, only the probe timeout suspects it. A
            // draining silo closes its ports before it leaves the table: its heartbeat decides.)
            var refused = ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused };
            var active = membership.Current.Silos.Any(s => s.Address == peer.Address && s.Status == SiloStatus.Active);
            membership.Suspect(
                peer.Address,
                refused ? "its silo port refused a connection (no process listens there)" : $"its silo port could not be reached ({ex.Message})",
                refused && active ? _options.RefusedConfirmTimeout : _options.SuspicionConfirmTimeout);
        }
        catch (ReplicaUnavailableException)
        {
            // Not reached yet: the probe timeout covers a silo that never comes up.
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Stopping.
        }
        catch (Exception ex)
        {
            LogProbeFailed(peer.Address.ToString(), ex);
        }
        finally
        {
            Volatile.Write(ref state.Probing, 0);
        }
    }

    // A crashed process's kernel resets the connection at once: the fastest sign of a death. The
    // reconnect is tried at once too, not at the next tick: its refusal is the second sign.
    private async Task SuspectWhenClosedAsync(SiloRecord peer, PeerState state, FramedConnection connection, CancellationToken token)
    {
        var reason = await connection.Closed.ConfigureAwait(false);
        if (!_stopping.IsCancellationRequested && _peers.ContainsKey(peer.Address))
        {
            membership.Suspect(peer.Address, $"its silo-to-silo connection broke ({reason.Message})", _options.SuspicionConfirmTimeout);
            ProbeNow(peer, state, token);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    [LoggerMessage(EventId = LogEvents.ProbeFailed, Level = LogLevel.Warning, Message = "Probing silo {Silo} failed unexpectedly; probing goes on.")]
    private partial void LogProbeFailed(string silo, Exception exception);

    private sealed class PeerState(long now)
    {
        // Timestamps of this silo's monotonic clock; written by the probe loop and the connection read loops.
        public long LastAnswer = now;
        public int Probing;
        public bool Reached;
        public FramedConnection? Connection;
    }
}
