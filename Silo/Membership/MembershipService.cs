using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Placement;
using static OrleansReplication.Silo.Hosting.ReplicationSiloMetadata;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// Placement's view of the cluster, read from Orleans' membership (<see cref="IClusterMembershipService"/>:
/// who is alive, declared by Orleans' probes and votes) and each silo's Orleans metadata (zone, host,
/// rack, endpoints; asked of the silo itself when Orleans' cache did not fetch it), plus the drains recorded in the partition-map store. Publishes immutable
/// <see cref="MembershipSnapshot"/>s and turns status changes into cluster events. Failure detection
/// is Orleans'; <see cref="Suspect"/> only speeds it up with evidence Orleans does not see.
/// </summary>
internal sealed partial class MembershipService(
    IClusterMembershipService orleans,
    ISiloMetadataCache metadata,
    Microsoft.Extensions.Options.IOptions<SiloMetadata> ownMetadata,
    IPartitionMapStore store,
    SiloIdentity identity,
    ClusterEventChannel events,
    Replication.IReplicaServiceClient replicaServices,
    ILogger<MembershipService> logger) : IAsyncDisposable
{
    // A silo's metadata arrives a moment after it joins (Orleans fetches it): until then it is
    // Joining here and re-read at this pace.
    private static readonly TimeSpan MetadataRetryInterval = TimeSpan.FromMilliseconds(100);

    // Orleans fetches a peer's metadata once per membership change, and never from a peer whose
    // IAmAlive row went stale (a store outage can leave it so while the peer lives on): a live silo
    // would then stay Joining here for good, placed on by nobody. Past this grace, this silo asks
    // the peer's replica service itself, at most once per interval per peer.
    private static readonly TimeSpan DescribeGrace = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DescribeTimeout = TimeSpan.FromSeconds(5);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<SiloAddress, IReadOnlyDictionary<string, string>> _described = new();

    // Per undescribed peer: when it was first seen so, then when it was last asked (TickCount64).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SiloAddress, long> _describeClock = new();

    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _watchersLock = new();
    private readonly List<Channel<MembershipSnapshot>> _watchers = [];
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private readonly ILogger _logger = logger;

    // Written under _refreshGate, read by anyone (a stale read only delays a decision by one refresh).
    private volatile MembershipSnapshot _current = MembershipSnapshot.Empty;
    private IReadOnlySet<SiloIncarnation> _draining = new HashSet<SiloIncarnation>();
    private Task? _loop;
    private int _disposed;

    /// <summary>The latest snapshot.</summary>
    public MembershipSnapshot Current => _current;

    public SiloIncarnation Self => identity.Address;

    /// <summary>Reads membership and drains once, then follows Orleans' membership updates.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Evidence that <paramref name="peer"/> died which Orleans' probes have not acted on yet (a
    /// replica call's connection refused): published, and the peer is declared dead through Orleans
    /// (<see cref="IClusterMembershipService.TryKill"/>) once a fresh connection to its silo port is
    /// refused too (nothing listens there; a loaded or paused process does not refuse).
    /// </summary>
    public void Suspect(SiloIncarnation peer, string reason)
    {
        if (LiveSilo(peer) is not { } silo)
        {
            return;
        }

        LogSuspected(peer.ToString(), reason);
        events.Publish(ClusterEventKinds.SiloSuspected, peer.ToString(), null, null, reason);
        _ = ConfirmAsync(peer, silo);
    }

    /// <summary>
    /// A call to <paramref name="peer"/> is unanswered for longer than calls take: quietly, if its
    /// silo port refuses connections (the process is gone; Orleans did not fail the calls it had
    /// sent over the closed connection, so nothing else says so yet), it is declared dead. A slow
    /// or paused silo accepts the connection, and Orleans' probes decide.
    /// </summary>
    public void CheckSiloPort(SiloIncarnation peer)
    {
        if (LiveSilo(peer) is { } silo)
        {
            _ = ConfirmAsync(peer, silo);
        }
    }

    // Peers whose death this silo logged: its own evidence (TryKill, possibly from several links at
    // once) and Orleans' confirmation say it once between them. One entry per dead incarnation.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _loggedDead = new(StringComparer.Ordinal);

    // The Orleans address of a peer this silo does not yet know to be dead.
    private SiloAddress? LiveSilo(SiloIncarnation peer) =>
        _current.Silos.FirstOrDefault(s => s.Address == peer && s.Status != SiloStatus.Dead)?.Silo;

    private async Task ConfirmAsync(SiloIncarnation peer, SiloAddress silo)
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await socket.ConnectAsync(silo.Endpoint, timeout.Token).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionRefused)
        {
            await DeclareDeadAsync(peer, "its silo port refuses connections").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // Not a refusal: Orleans' probes decide.
        }
    }

    /// <summary>
    /// Declares <paramref name="peer"/> dead through Orleans (<see cref="IClusterMembershipService.TryKill"/>)
    /// on this silo's own evidence, and logs it once with <paramref name="reason"/>. True when it was
    /// declared dead by this call or before; false when it is not a live peer here, or when the
    /// table says this silo is the dead one (TryKill answers true then too: the peer won the race).
    /// Throws when the membership table cannot be reached.
    /// </summary>
    public async Task<bool> DeclareDeadAsync(SiloIncarnation peer, string reason)
    {
        if (LiveSilo(peer) is not { } silo
            || !await orleans.TryKill(silo).ConfigureAwait(false)
            || orleans.CurrentSnapshot.GetSiloStatus(identity.OrleansAddress) == Orleans.Runtime.SiloStatus.Dead)
        {
            return false;
        }

        LogDeadOnce(peer.ToString(), reason);
        return true;
    }

    /// <summary>
    /// Marks <paramref name="silo"/> draining: it keeps serving while it hands its primaries to
    /// standbys, and placement gives it nothing new. False when it is not a live silo.
    /// </summary>
    public async Task<bool> MarkDrainingAsync(SiloIncarnation silo, CancellationToken cancellationToken)
    {
        if (!_current.Silos.Any(s => s.Address == silo && s.Status is SiloStatus.Active or SiloStatus.Joining))
        {
            return false;
        }

        await store.MarkDrainingAsync(silo, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        return true;
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

    /// <summary>Asks Orleans for its newest membership, reads the drains, and publishes a snapshot if anything changed.</summary>
    internal async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await orleans.Refresh(cancellationToken: cancellationToken).ConfigureAwait(false);
        _draining = await store.ReadDrainingAsync(cancellationToken).ConfigureAwait(false);
        await PublishAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops following membership (idempotent: the silo's stop and the container both call it).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        lock (_watchersLock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }
        }

        _stopping.Dispose();
        _refreshGate.Dispose();
    }

    private async Task LoopAsync()
    {
        var token = _stopping.Token;
        await using var updates = orleans.MembershipUpdates.GetAsyncEnumerator(token);
        var next = updates.MoveNextAsync().AsTask();
        while (!token.IsCancellationRequested)
        {
            try
            {
                // Metadata of a new silo comes after its membership update: poll briefly until every live one has it.
                var missing = _current.Silos.Any(s => s.Status == SiloStatus.Joining);
                var woke = await Task.WhenAny(next, Task.Delay(missing ? MetadataRetryInterval : Timeout.InfiniteTimeSpan, token)).ConfigureAwait(false);
                if (woke == next)
                {
                    if (!await next.ConfigureAwait(false))
                    {
                        return;
                    }

                    next = updates.MoveNextAsync().AsTask();
                }

                await PublishAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogMembershipError(Self.ToString(), ex);
            }
        }
    }

    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var rows = orleans.CurrentSnapshot.Members.Values
                .Select(ToRecord)
                .OrderBy(r => r.Address.SiloId, StringComparer.Ordinal).ThenBy(r => r.Address.Incarnation)
                .ToList();
            var current = _current;
            if (current.Version > 0 && rows.Count == current.Silos.Count && rows.Zip(current.Silos).All(p => p.First == p.Second))
            {
                return;
            }

            PublishEvents(current, rows);
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
        finally
        {
            _refreshGate.Release();
        }
    }

    // An Orleans-active peer without metadata: a grace after it was first seen so, ask it, and
    // again at most once per grace. Refreshes run one at a time (_refreshGate): no race here.
    private void DescribeLater(SiloAddress silo)
    {
        var now = Environment.TickCount64;
        if (now - _describeClock.GetOrAdd(silo, now) < DescribeGrace.TotalMilliseconds)
        {
            return;
        }

        _describeClock[silo] = now;
        _ = Task.Run(async () =>
        {
            try
            {
                var answer = await replicaServices.GetService(silo).DescribeAsync().WaitAsync(DescribeTimeout, _stopping.Token).ConfigureAwait(false);
                if (answer.Metadata.ContainsKey(MemberKey))
                {
                    _described[silo] = answer.Metadata;
                    LogDescribedByPeer(silo.ToString());
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogDescribeFailed(silo.ToString(), ex.Message); // retried after the grace while it stays undescribed
            }
        });
    }

    private SiloRecord ToRecord(ClusterMember member)
    {
        var address = new SiloIncarnation(member.Name, member.SiloAddress.Generation);
        // This silo's own metadata is known here at once; peers' arrive through Orleans' cache.
        IReadOnlyDictionary<string, string> data = member.SiloAddress.Equals(identity.OrleansAddress) ? ownMetadata.Value.Metadata : metadata.GetSiloMetadata(member.SiloAddress).Metadata;
        if (!data.ContainsKey(MemberKey) && _described.TryGetValue(member.SiloAddress, out var described))
        {
            data = described;
        }

        var known = data.ContainsKey(MemberKey);

        // No metadata at all: Orleans did not fetch it. Metadata without ours: a silo that does not
        // run the replication (never placed on), nothing to ask.
        if (data.Count == 0 && member.Status == Orleans.Runtime.SiloStatus.Active)
        {
            DescribeLater(member.SiloAddress);
        }
        else if (member.Status == Orleans.Runtime.SiloStatus.Dead)
        {
            _described.TryRemove(member.SiloAddress, out _);
            _describeClock.TryRemove(member.SiloAddress, out _);
        }
        var status = member.Status switch
        {
            Orleans.Runtime.SiloStatus.Dead => SiloStatus.Dead,
            Orleans.Runtime.SiloStatus.ShuttingDown or Orleans.Runtime.SiloStatus.Stopping => SiloStatus.ShuttingDown,
            Orleans.Runtime.SiloStatus.Active when _draining.Contains(address) => SiloStatus.ShuttingDown,
            Orleans.Runtime.SiloStatus.Active when known => SiloStatus.Active,
            _ => SiloStatus.Joining,
        };
        string Get(string key) => data.GetValueOrDefault(key, string.Empty);
        _ = long.TryParse(Get(MemoryKey), System.Globalization.CultureInfo.InvariantCulture, out var memory);
        return new SiloRecord(address, status, member.SiloAddress.Endpoint.ToString(), Get(GatewayKey), Get(HttpKey), Get(ZoneKey), Get(HostKey), Get(RackKey), 0, memory, 0, member.SiloAddress);
    }

    // Status changes between two snapshots, as cluster events (not the first: that is history).
    private void PublishEvents(MembershipSnapshot before, IReadOnlyList<SiloRecord> after)
    {
        if (before.Version == 0)
        {
            return;
        }

        foreach (var row in after)
        {
            var old = before.Silos.FirstOrDefault(b => b.Address == row.Address);
            if (old?.Status == row.Status)
            {
                continue;
            }

            var silo = row.Address.ToString();
            switch (row.Status)
            {
                case SiloStatus.Active:
                    events.Publish(ClusterEventKinds.SiloJoined, silo, null, null, $"Silo {silo} joined and is active (gateway {row.GatewayEndpoint}, HTTP {row.HttpEndpoint}).");
                    break;
                case SiloStatus.ShuttingDown:
                    events.Publish(ClusterEventKinds.SiloDraining, silo, null, null, $"Silo {silo} is draining: it hands its primaries to in-sync standbys and takes no new ones.");
                    break;
                case SiloStatus.Dead when old is not null && row.Address != Self:
                    if (old.Status == SiloStatus.ShuttingDown)
                    {
                        events.Publish(ClusterEventKinds.SiloLeft, silo, null, null, $"Silo {silo} left the cluster after draining.");
                    }
                    else
                    {
                        LogDeadOnce(silo, "Orleans membership declared it dead");

                        events.Publish(ClusterEventKinds.SiloDeclaredDead, silo, null, null, $"Silo {silo} was declared dead by Orleans membership (it stopped answering probes, or it left without draining).");
                    }

                    break;
            }
        }
    }

    private void LogDeadOnce(string silo, string reason)
    {
        if (_loggedDead.TryAdd(silo, true))
        {
            LogDeclaredDead(silo, reason);
        }
    }

    [LoggerMessage(EventId = LogEvents.SiloDeclaredDead, Level = LogLevel.Warning, Message = "Silo {Silo} is dead: {Reason}. Its partitions move to their standbys.")]
    private partial void LogDeclaredDead(string silo, string reason);

    [LoggerMessage(EventId = LogEvents.SiloSuspected, Level = LogLevel.Warning, Message = "Suspect silo {Silo}: {Reason}. It is declared dead at once if its silo port refuses a connection, else when Orleans' probes confirm it.")]
    private partial void LogSuspected(string silo, string reason);

    [LoggerMessage(EventId = LogEvents.SiloDescribedByPeer, Level = LogLevel.Information, Message = "Orleans did not fetch the metadata of live silo {Silo} (its membership row may have missed IAmAlive updates during a store outage); read it from the silo itself.")]
    private partial void LogDescribedByPeer(string silo);

    [LoggerMessage(EventId = LogEvents.SiloDescribeFailed, Level = LogLevel.Debug, Message = "Reading the metadata of silo {Silo} from the silo itself failed ({Reason}); retrying while Orleans lacks it.")]
    private partial void LogDescribeFailed(string silo, string reason);

    [LoggerMessage(EventId = LogEvents.MembershipTableError, Level = LogLevel.Warning, Message = "Silo {Silo} could not follow Orleans membership; retrying.")]
    private partial void LogMembershipError(string silo, Exception exception);
}
