using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// This silo's membership agent and monitor: joins the table, writes IAmAlive, reads everyone's
/// rows, declares peers dead whose heartbeat stood still for <see cref="MembershipOptions.DeathTimeout"/>,
/// or, sooner, peers the <see cref="FailureDetector"/> suspects whose heartbeat stood still for
/// <see cref="MembershipOptions.SuspicionConfirmTimeout"/> (the table confirms the suspicion; any
/// silo may declare: co-controllers, no single coordinator; the table's compare-and-swap settles
/// races), stops serving when it finds itself declared dead, and publishes immutable snapshots.
/// </summary>
internal sealed partial class MembershipService : IHostedService, IAsyncDisposable
{
    private readonly IMembershipTable _table;
    private readonly SiloIdentity _identity;
    private readonly MembershipOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Func<int> _partitionsCarried;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _watchersLock = new();
    private readonly List<Channel<MembershipSnapshot>> _watchers = [];

    // Owned by the loop: a peer's last IAmAlive value and when (our monotonic clock) it last moved.
    private readonly Dictionary<SiloIncarnation, (long IAmAlive, long SeenAt)> _progress = [];

    // Peers the failure detector suspects (any thread adds or clears; the loop reads), and the
    // signal that makes the loop read the table at once and then every probe interval.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SiloIncarnation, (string Reason, TimeSpan ConfirmAfter)> _suspected = new();
    private readonly Replication.AsyncSignal _suspicionRaised = new();
    private readonly ClusterEventChannel? _events;

    // Owned by the loop: peers this silo declared dead (their event is out already).
    private readonly HashSet<SiloIncarnation> _declaredHere = [];
    private readonly SemaphoreSlim _refreshGate = new(1, 1);

    private Task? _loop;
    private volatile MembershipSnapshot _current = MembershipSnapshot.Empty;
    private SiloRecord _self = null!;

    public MembershipService(IMembershipTable table, SiloIdentity identity, IOptions<MembershipOptions> options, TimeProvider time, ILogger<MembershipService> logger, IHostApplicationLifetime lifetime, Func<int>? partitionsCarried = null, ClusterEventChannel? events = null)
    {
        _events = events;
        _table = table;
        _identity = identity;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _lifetime = lifetime;
        _partitionsCarried = partitionsCarried ?? (() => 0);
    }

    /// <summary>The latest snapshot.</summary>
    public MembershipSnapshot Current => _current;

    public SiloIncarnation Self => _identity.Address;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _self = new SiloRecord(
            _identity.Address, SiloStatus.Joining, _identity.SiloEndpoint, _identity.GatewayEndpoint, _identity.HttpEndpoint,
            _options.Zone, _options.Host, _options.Rack, Now(), FreeMemory(), 0);
        await _table.JoinAsync(_self, cancellationToken).ConfigureAwait(false);
        LogJoined(_identity.Address.ToString());
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// The failure detector suspects <paramref name="peer"/>: the table is read at once and then
    /// every probe interval, and the peer is declared dead as soon as its IAmAlive has stood still
    /// for <paramref name="confirmAfter"/> (<see cref="MembershipOptions.SuspicionConfirmTimeout"/>
    /// for a broken connection; longer for unanswered probes, which a loaded machine can cause).
    /// </summary>
    public void Suspect(SiloIncarnation peer, string reason, TimeSpan confirmAfter)
    {
        if (peer == Self || !_current.IsAlive(peer))
        {
            return;
        }

        if (!_suspected.TryAdd(peer, (reason, confirmAfter)))
        {
            // Already suspected: a stronger sign (a refused connection) confirms sooner.
            if (_suspected.TryGetValue(peer, out var earlier) && confirmAfter < earlier.ConfirmAfter && _suspected.TryUpdate(peer, ($"{earlier.Reason}; then {reason}", confirmAfter), earlier))
            {
                LogSuspected(peer.ToString(), reason);
                _suspicionRaised.Set();
            }

            return;
        }

        LogSuspected(peer.ToString(), reason);
        _events?.Publish(ClusterEventKinds.SiloSuspected, peer.ToString(), null, null, reason);
        _suspicionRaised.Set();
    }

    /// <summary>The peer answered again: the suspicion is dropped.</summary>
    public void ClearSuspicion(SiloIncarnation peer)
    {
        if (_suspected.TryRemove(peer, out _))
        {
            LogSuspicionCleared(peer.ToString());
        }
    }

    /// <summary>Whether this silo currently suspects <paramref name="peer"/>.</summary>
    public bool IsSuspected(SiloIncarnation peer) => _suspected.ContainsKey(peer);

    /// <summary>
    /// Marks <paramref name="silo"/> ShuttingDown (draining): it keeps serving while it hands its
    /// primaries to standbys, and placement gives it nothing new. False when it is not Joining or Active.
    /// </summary>
    public async Task<bool> MarkDrainingAsync(SiloIncarnation silo, CancellationToken cancellationToken)
    {
        var done = await _table.TryUpdateStatusAsync(silo, SiloStatus.Active, SiloStatus.ShuttingDown, cancellationToken).ConfigureAwait(false)
            || await _table.TryUpdateStatusAsync(silo, SiloStatus.Joining, SiloStatus.ShuttingDown, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        return done;
    }

    /// <summary>Marks this silo Active: it may now be given partitions.</summary>
    public async Task MarkActiveAsync(CancellationToken cancellationToken)
    {
        await _table.TryUpdateStatusAsync(Self, SiloStatus.Joining, SiloStatus.Active, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        // Leave cleanly: peers see Dead at once instead of waiting for the death timeout.
        foreach (var status in new[] { SiloStatus.Active, SiloStatus.Joining, SiloStatus.ShuttingDown })
        {
            if (await _table.TryUpdateStatusAsync(Self, status, SiloStatus.Dead, cancellationToken).ConfigureAwait(false))
            {
                LogLeft(Self.ToString());
                _events?.Publish(ClusterEventKinds.SiloLeft, Self.ToString(), null, null, "This silo left the cluster (marked Dead on shutdown).");
                break;
            }
        }

        CompleteWatchers();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        CompleteWatchers();
        _stopping.Dispose();
        _refreshGate.Dispose();
    }

    /// <summary>The current snapshot, then every later one (intermediate ones may be skipped: each is complete).</summary>
    public async IAsyncEnumerable<MembershipSnapshot> WatchAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateBounded<MembershipSnapshot>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_watchersLock)
        {
            _watchers.Add(channel);
        }

        try
        {
            var last = _current;
            yield return last;
            await foreach (var snapshot in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (snapshot.Version > last.Version)
                {
                    last = snapshot;
                    yield return snapshot;
                }
            }
        }
        finally
        {
            lock (_watchersLock)
            {
                _watchers.Remove(channel);
            }
        }
    }

    /// <summary>Writes IAmAlive; when this silo was declared dead, stops the application and returns false.</summary>
    internal async Task<bool> HeartbeatAsync(CancellationToken cancellationToken)
    {
        if (await _table.HeartbeatAsync(Self, Now(), FreeMemory(), _partitionsCarried(), cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        LogSelfDeclaredDead(Self.ToString());
        _lifetime.StopApplication();
        return false;
    }

    /// <summary>Reads the table, declares stalled peers dead, and publishes a snapshot if anything changed.</summary>
    internal async Task RefreshAsync(CancellationToken cancellationToken)
    {
        // The loop, start-up and a drain request may read the table at once: one at a time.
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RefreshCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private async Task RefreshCoreAsync(CancellationToken cancellationToken)
    {
        var rows = await _table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetTimestamp();
        foreach (var row in rows)
        {
            if (row.Status == SiloStatus.Dead || row.Address == Self)
            {
                _progress.Remove(row.Address);
                continue;
            }

            if (!_progress.TryGetValue(row.Address, out var seen) || seen.IAmAlive != row.IAmAlive)
            {
                seen = (row.IAmAlive, now);
                _progress[row.Address] = seen;
            }

            // A heartbeat that just moved has stood still 0 ms: only a suspicion that needs no
            // standing heartbeat (a refused reconnect to an active peer, by default) confirms then.
            var stalled = _time.GetElapsedTime(seen.SeenAt, now);
            var suspected = _suspected.TryGetValue(row.Address, out var suspicion);
            var confirmed = stalled >= _options.DeathTimeout || (suspected && stalled >= suspicion.ConfirmAfter);
            if (confirmed && await _table.TryUpdateStatusAsync(row.Address, row.Status, SiloStatus.Dead, cancellationToken).ConfigureAwait(false))
            {
                var reason = suspected
                    ? $"suspected ({suspicion.Reason}) and its heartbeat has not moved for {(long)stalled.TotalMilliseconds} ms"
                    : $"its heartbeat has not moved for {(long)stalled.TotalMilliseconds} ms";
                LogDeclaredDead(row.Address.ToString(), reason);
                _events?.Publish(ClusterEventKinds.SiloDeclaredDead, row.Address.ToString(), null, null, $"Declared dead by {Self}: {reason}.");
                _declaredHere.Add(row.Address);
                _progress.Remove(row.Address);
                rows = await _table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var peer in _suspected.Keys)
        {
            if (!rows.Any(r => r.Address == peer && r.Status != SiloStatus.Dead))
            {
                _suspected.TryRemove(peer, out _);
            }
        }

        Publish(rows);
    }

    private async Task LoopAsync()
    {
        var token = _stopping.Token;
        var tick = _options.HeartbeatInterval < _options.RefreshInterval ? _options.HeartbeatInterval : _options.RefreshInterval;
        var lastHeartbeat = _time.GetTimestamp();
        var lastRefresh = lastHeartbeat;
        try
        {
            while (true)
            {
                // While a peer is suspected the table is read every probe interval, so its death
                // is confirmed (or the suspicion cleared) within a probe interval of the timeout.
                var wait = _suspected.IsEmpty ? tick : Min(tick, _options.ProbeInterval);
                if (await _suspicionRaised.WaitAsync(wait, _time, token).ConfigureAwait(false))
                {
                    lastRefresh = 0;
                }

                try
                {
                    if (_time.GetElapsedTime(lastHeartbeat) >= _options.HeartbeatInterval)
                    {
                        lastHeartbeat = _time.GetTimestamp();
                        if (!await HeartbeatAsync(token).ConfigureAwait(false))
                        {
                            return;
                        }
                    }

                    if (lastRefresh == 0 || !_suspected.IsEmpty || _time.GetElapsedTime(lastRefresh) >= _options.RefreshInterval)
                    {
                        lastRefresh = _time.GetTimestamp();
                        await RefreshAsync(token).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A store hiccup must not end the agent; the death timeout covers a long outage.
                    LogTableError(Self.ToString(), ex);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private void Publish(IReadOnlyList<SiloRecord> rows)
    {
        var current = _current;
        PublishEvents(current.Silos, rows);
        if (current.Version > 0 && SameMembership(current.Silos, rows))
        {
            // Same members: keep the version (watchers are not woken) but show the fresh
            // heartbeats and dynamic attributes to readers of Current.
            _current = current with { Silos = rows };
            return;
        }

        var snapshot = new MembershipSnapshot(current.Version + 1, rows);
        _current = snapshot;
        lock (_watchersLock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite(snapshot);
            }
        }
    }

    // Status changes seen between two reads of the table, as cluster events (not the first read: that is history).
    private void PublishEvents(IReadOnlyList<SiloRecord> before, IReadOnlyList<SiloRecord> after)
    {
        if (_events is null || _current.Version == 0)
        {
            return;
        }

        foreach (var row in after)
        {
            var old = before.FirstOrDefault(b => b.Address == row.Address);
            if (old?.Status == row.Status)
            {
                continue;
            }

            var silo = row.Address.ToString();
            switch (row.Status)
            {
                case SiloStatus.Active:
                    _events.Publish(ClusterEventKinds.SiloJoined, silo, null, null, $"Silo {silo} joined and is active (gateway {row.GatewayEndpoint}, HTTP {row.HttpEndpoint}).");
                    break;
                case SiloStatus.ShuttingDown:
                    _events.Publish(ClusterEventKinds.SiloDraining, silo, null, null, $"Silo {silo} is draining: it hands its primaries to in-sync standbys and takes no new ones.");
                    break;
                case SiloStatus.Dead when old is not null && !_declaredHere.Remove(row.Address) && row.Address != Self:
                    if (old.Status == SiloStatus.ShuttingDown)
                    {
                        _events.Publish(ClusterEventKinds.SiloLeft, silo, null, null, $"Silo {silo} left the cluster after draining.");
                    }
                    else
                    {
                        _events.Publish(ClusterEventKinds.SiloDeclaredDead, silo, null, null, $"Silo {silo} was marked dead in the membership table (by another silo, or it left without draining).");
                    }

                    break;
            }
        }
    }

    // IAmAlive and the dynamic attributes change every heartbeat; only status and identity changes
    // make a new snapshot version, so watchers are woken for what matters to placement.
    private static bool SameMembership(IReadOnlyList<SiloRecord> a, IReadOnlyList<SiloRecord> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Address == p.Second.Address && p.First.Status == p.Second.Status);

    private void CompleteWatchers()
    {
        lock (_watchersLock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }
        }
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static long FreeMemory()
    {
        var info = GC.GetGCMemoryInfo();
        return Math.Max(0, info.TotalAvailableMemoryBytes - info.MemoryLoadBytes);
    }

    [LoggerMessage(EventId = LogEvents.SiloJoined, Level = LogLevel.Information, Message = "Silo {Silo} joined the membership table.")]
    private partial void LogJoined(string silo);

    [LoggerMessage(EventId = LogEvents.SiloLeft, Level = LogLevel.Information, Message = "Silo {Silo} left the membership table (marked Dead on shutdown).")]
    private partial void LogLeft(string silo);

    [LoggerMessage(EventId = LogEvents.SiloDeclaredDead, Level = LogLevel.Warning, Message = "Declared silo {Silo} dead: {Reason}. Its partitions move to their standbys.")]
    private partial void LogDeclaredDead(string silo, string reason);

    [LoggerMessage(EventId = LogEvents.SiloSuspected, Level = LogLevel.Warning, Message = "Suspect silo {Silo}: {Reason}. It is declared dead if the membership table confirms it (its heartbeat stands still; after a refused reconnect, by default at once).")]
    private partial void LogSuspected(string silo, string reason);

    [LoggerMessage(EventId = LogEvents.SuspicionCleared, Level = LogLevel.Information, Message = "Silo {Silo} answers probes again; no longer suspected.")]
    private partial void LogSuspicionCleared(string silo);

    [LoggerMessage(EventId = LogEvents.SelfDeclaredDead, Level = LogLevel.Critical, Message = "Silo {Silo} was declared dead by the cluster (its heartbeats stopped reaching the table). It stops serving now; restart it to rejoin as a new incarnation.")]
    private partial void LogSelfDeclaredDead(string silo);

    [LoggerMessage(EventId = LogEvents.MembershipTableError, Level = LogLevel.Warning, Message = "Silo {Silo} could not reach the membership table; retrying. Check the store's health.")]
    private partial void LogTableError(string silo, Exception exception);
}
