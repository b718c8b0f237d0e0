using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// This silo's membership agent and monitor: joins the table, writes IAmAlive, reads everyone's
/// rows, declares peers dead whose heartbeat stood still for <see cref="MembershipOptions.DeathTimeout"/>
/// (any silo may: co-controllers, no single coordinator; the table's compare-and-swap settles
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
    private readonly Dictionary<SiloAddress, (long IAmAlive, long SeenAt)> _progress = [];

    private Task? _loop;
    private volatile MembershipSnapshot _current = MembershipSnapshot.Empty;
    private SiloRecord _self = null!;

    public MembershipService(IMembershipTable table, SiloIdentity identity, IOptions<MembershipOptions> options, TimeProvider time, ILogger<MembershipService> logger, IHostApplicationLifetime lifetime, Func<int>? partitionsCarried = null)
    {
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

    public SiloAddress Self => _identity.Address;

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
                _progress[row.Address] = (row.IAmAlive, now);
                continue;
            }

            var stalled = _time.GetElapsedTime(seen.SeenAt, now);
            if (stalled >= _options.DeathTimeout && await _table.TryUpdateStatusAsync(row.Address, row.Status, SiloStatus.Dead, cancellationToken).ConfigureAwait(false))
            {
                LogDeclaredDead(row.Address.ToString(), (long)stalled.TotalMilliseconds);
                _progress.Remove(row.Address);
                rows = await _table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        Publish(rows);
    }

    private async Task LoopAsync()
    {
        var token = _stopping.Token;
        var tick = _options.HeartbeatInterval < _options.RefreshInterval ? _options.HeartbeatInterval : _options.RefreshInterval;
        using var timer = new PeriodicTimer(tick, _time);
        var lastHeartbeat = _time.GetTimestamp();
        var lastRefresh = lastHeartbeat;
        try
        {
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
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

                    if (_time.GetElapsedTime(lastRefresh) >= _options.RefreshInterval)
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

    private void Publish(IReadOnlyList<SiloRecord> rows)
    {
        var current = _current;
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

    [LoggerMessage(EventId = LogEvents.SiloDeclaredDead, Level = LogLevel.Warning, Message = "Declared silo {Silo} dead: its heartbeat has not moved for {StalledMs} ms. Its partitions move to their standbys.")]
    private partial void LogDeclaredDead(string silo, long stalledMs);

    [LoggerMessage(EventId = LogEvents.SelfDeclaredDead, Level = LogLevel.Critical, Message = "Silo {Silo} was declared dead by the cluster (its heartbeats stopped reaching the table). It stops serving now; restart it to rejoin as a new incarnation.")]
    private partial void LogSelfDeclaredDead(string silo);

    [LoggerMessage(EventId = LogEvents.MembershipTableError, Level = LogLevel.Warning, Message = "Silo {Silo} could not reach the membership table; retrying. Check the store's health.")]
    private partial void LogTableError(string silo, Exception exception);
}
