using Microsoft.Extensions.Hosting;
using Orleans;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Hosting;

/// <summary>
/// The replication's start and stop, after Orleans' silo joined the cluster. Start: store schema →
/// follow Orleans membership → load partitions → partition map reconciled, then kept in step with
/// membership. Stop: first, while every listener still serves, drain (mark this silo draining and
/// hand every primary to an in-sync standby); then, in reverse: map loop → partitions (queued
/// writes finish) → store; Orleans' silo leaves the cluster after. <see cref="StoppingAsync"/>
/// runs before Kestrel and Orleans stop.
/// </summary>
internal sealed partial class SiloLifecycleService(
    IStateStore store,
    MembershipService membership,
    PartitionMapManager partitionMap,
    PartitionManager partitions,
    StandbyHost standbys,
    ReplicationRouting replication,
    Diagnostics.ReplicationMetrics metrics,
    SiloIdentity identity,
    PartitionMapNotifier notifier,
    GracefulHandoff handoff,
    IOptions<SiloOptions> options,
    IOptions<MembershipOptions> membershipOptions,
    ILogger<SiloLifecycleService> logger) : IHostedLifecycleService, Orleans.ILifecycleParticipant<Orleans.Runtime.ISiloLifecycle>
{
    private readonly ILogger _logger = logger;
    // How often the map is reconciled between membership changes (a read of one table; writes only when the plan is not empty).
    private static readonly TimeSpan MapRefreshInterval = TimeSpan.FromMilliseconds(500);

    private readonly CancellationTokenSource _stopping = new();
    private Task? _mapLoop;

    /// <summary>
    /// Partitions load from the store before the silo joins Orleans' membership: no peer hands it
    /// a partition (or makes it a standby) before it can take one up, and no peer probes it while
    /// the load runs (loading a million items on a busy two-core host starved the answers to
    /// probes, and a silo still joining was declared dead). Membership is followed once the silo
    /// is Joining, the map once it is Active.
    /// </summary>
    public void Participate(Orleans.Runtime.ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(SiloLifecycleService), Orleans.ServiceLifecycleStage.RuntimeServices, LoadAsync, _ => Task.CompletedTask);
        lifecycle.Subscribe(nameof(SiloLifecycleService), Orleans.ServiceLifecycleStage.ApplicationServices, JoinAsync, _ => Task.CompletedTask);
        lifecycle.Subscribe(nameof(SiloLifecycleService), Orleans.ServiceLifecycleStage.Active, FollowAsync, _ => Task.CompletedTask);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        // Resolved here so the meter exists from the start; it is observed, never called.
        GC.KeepAlive(metrics);
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await partitions.StartAsync(o.PartitionCount, cancellationToken).ConfigureAwait(false);
        identity.PartitionCount = partitions.PartitionCount;
    }

    private Task JoinAsync(CancellationToken cancellationToken) => membership.StartAsync(cancellationToken);

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        await membership.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var map = await partitionMap.ReconcileAsync(partitions.PartitionCount, membership.Current, cancellationToken).ConfigureAwait(false);
        await FollowMapAsync(map, cancellationToken).ConfigureAwait(false);
        _mapLoop = Task.Run(MapLoopAsync, CancellationToken.None);
        LogStarted(identity.Address.ToString(), store.ProviderName, identity.HttpEndpoint, identity.GatewayEndpoint, identity.SiloEndpoint, partitions.PartitionCount);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        LogStopping(identity.Address.ToString());
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_mapLoop is not null)
        {
            await _mapLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await handoff.WaitIdleAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        await replication.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await partitions.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await membership.DisposeAsync().ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
    }

    // Started by the silo's lifecycle (Participate), inside Orleans' own start.
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// SIGTERM (or any stop): before the listeners close, mark this silo draining and wait until the
    /// map loop handed every primary to an in-sync standby (at most <see cref="MembershipOptions.DrainTimeout"/>),
    /// so a rolling restart fails no request. With no other active silo there is nobody to hand to.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_mapLoop is null || _mapLoop.IsCompleted || !membership.Current.Active.Any(s => s.Address != identity.Address))
        {
            LogDrainSkipped(identity.Address.ToString());
            return;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await membership.MarkDrainingAsync(identity.Address, cancellationToken).ConfigureAwait(false);
            notifier.Changed.Set();

            // Peers re-read the table now: none plans to hand this silo a primary any more.
            await notifier.NotifyAllAndWaitAsync(membership.Current, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            var timeout = membershipOptions.Value.DrainTimeout;
            bool Draining() => partitionMap.Current.LedBy(identity.Address).Any() && System.Diagnostics.Stopwatch.GetElapsedTime(started) < timeout && !_mapLoop.IsCompleted;
            do
            {
                while (Draining())
                {
                    await Task.Delay(20, cancellationToken).ConfigureAwait(false);
                }

                // Before the listeners close, every peer must route by the new map: none may
                // redirect a client here any more (and none handed a partition back meanwhile).
                await notifier.NotifyAllAndWaitAsync(membership.Current, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                await partitionMap.RefreshAsync(partitions.PartitionCount, cancellationToken).ConfigureAwait(false);
            }
            while (Draining());
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogDrainFailed(identity.Address.ToString(), ex);
        }

        var left = partitionMap.Current.LedBy(identity.Address).Count();
        LogDrained(identity.Address.ToString(), left, (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Every membership change (a silo joined, left or died) triggers a reconciliation, and so does a
    // peer's word that it changed the map, and a regular tick: standby moves are bounded per round.
    private async Task MapLoopAsync()
    {
        var token = _stopping.Token;
        await using var changes = membership.WatchAsync(token).GetAsyncEnumerator(token);
        var next = changes.MoveNextAsync().AsTask();
        var nudged = notifier.Changed.WaitAsync(token).AsTask();
        var failures = 0;
        while (!token.IsCancellationRequested)
        {
            List<TaskCompletionSource> replies = [];
            try
            {
                var tick = Task.Delay(MapRefreshInterval, token);
                var woke = await Task.WhenAny(next, nudged, tick).ConfigureAwait(false);

                // Peers asking "follow the map" are answered after this round, which reads a map at least as new as theirs.
                replies = notifier.TakePendingReplies();
                if (woke == next)
                {
                    if (!await next.ConfigureAwait(false))
                    {
                        return;
                    }

                    next = changes.MoveNextAsync().AsTask();
                }
                else if (woke == nudged)
                {
                    nudged = notifier.Changed.WaitAsync(token).AsTask();

                    // A peer changed the map or a silo's status (a drain): read both fresh, so a
                    // silo that joined or started draining since the last read is seen as it is.
                    await membership.RefreshAsync(token).ConfigureAwait(false);
                }

                var map = await partitionMap.ReconcileAsync(partitions.PartitionCount, membership.Current, token).ConfigureAwait(false);
                await FollowMapAsync(map, token).ConfigureAwait(false);
                if (partitionMap.TakeWritten())
                {
                    // A promotion takes effect on every silo now, not at each one's next tick.
                    notifier.NotifyAll(membership.Current);
                }

                PartitionMapNotifier.AnswerFollowed(replies);
                replies = [];
                if (failures > 0)
                {
                    LogReconcileRecovered(identity.Address.ToString(), failures);
                    failures = 0;
                }
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                // Peers waiting for this silo to follow the map are answered once a round succeeds.
                notifier.Requeue(replies);
                replies = [];
                notifier.Changed.Set();

                // The store is down or refusing: retry soon, but not in a spin that burns the CPU
                // the silo's writes need and floods the log (once per streak, then every 20th).
                var delay = ReconcileRetryDelay(++failures);
                if (failures == 1 || failures % 20 == 0)
                {
                    LogReconcileFailed(identity.Address.ToString(), failures, delay.TotalMilliseconds, ex);
                }

                await Task.Delay(delay, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            finally
            {
                PartitionMapNotifier.AnswerFollowed(replies); // stopping: do not keep peers waiting
            }
        }
    }

    // Roles first (promote, take over, demote), then the links of the partitions led here, then
    // handoffs of partitions led here to in-sync standbys of silos below their share.
    private async Task FollowMapAsync(PartitionMap map, CancellationToken cancellationToken)
    {
        var snapshot = membership.Current;
        await ApplyRolesAndLinksAsync(map, snapshot, cancellationToken).ConfigureAwait(false);
        if (snapshot.Silos.Any(s => s.Address == identity.Address && s.Status == SiloStatus.ShuttingDown))
        {
            // Draining (drain request or SIGTERM): hand off what is led here, lead nothing new.
            handoff.Start(map, handoff.PlanDrain(map, snapshot), snapshot, cancellationToken);
            return;
        }

        // A standby a move replaced leaves once its successor caught up here. Not beside a handoff
        // under way (both write the row: one would undo the other), and a round that retired plans
        // handoffs on the next round's map.
        if (handoff.IsIdle && await partitionMap.RetireReplacedStandbysAsync(identity.Address, IsInSyncStandby, cancellationToken).ConfigureAwait(false) > 0)
        {
            return;
        }

        // Balancing moves primaries gracefully too (seal, catch up, swap): no request fails.
        handoff.Start(map, partitionMap.PlanBalancingHandoffs(snapshot, IsInSyncStandby), snapshot, cancellationToken);
    }

    private bool IsInSyncStandby(int partition, SiloIncarnation standby) =>
        partitions.Leads(partition) && partitions.Partitions[partition].Links.Any(l => l.InSync && l.Name == standby.ToString());

    private async Task ApplyRolesAndLinksAsync(PartitionMap map, MembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        var replaced = await partitions.ApplyRolesAsync(map, identity.Address, snapshot.Silos, standbys.Copy, cancellationToken).ConfigureAwait(false);
        foreach (var p in replaced)
        {
            standbys.Remove(p, partitions.Partitions[p].Epoch);
        }

        await replication.ApplyMapAsync(map, snapshot).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.SiloStarted, Level = LogLevel.Information, Message = "Silo {SiloId} serving with the {Storage} store: HTTP {HttpEndpoint}, gateway {GatewayEndpoint}, silo {SiloEndpoint}, {Partitions} partitions.")]
    private partial void LogStarted(string siloId, string storage, string httpEndpoint, string gatewayEndpoint, string siloEndpoint, int partitions);

    [LoggerMessage(EventId = LogEvents.SiloStopping, Level = LogLevel.Information, Message = "Silo {SiloId} stopping: finishing queued writes, leaving the membership table, then closing the store.")]
    private partial void LogStopping(string siloId);

    [LoggerMessage(EventId = LogEvents.SiloDrained, Level = LogLevel.Information, Message = "Silo {SiloId} drained before stopping: {Left} partitions still led here (they fail over once it is gone) after {ElapsedMs} ms.")]
    private partial void LogDrained(string siloId, int left, long elapsedMs);

    [LoggerMessage(EventId = LogEvents.SiloDrainSkipped, Level = LogLevel.Information, Message = "Silo {SiloId} stops without draining: no other active silo to hand its partitions to.")]
    private partial void LogDrainSkipped(string siloId);

    [LoggerMessage(EventId = LogEvents.SiloDrainFailed, Level = LogLevel.Warning, Message = "Silo {SiloId} could not drain before stopping; its partitions fail over once it is gone.")]
    private partial void LogDrainFailed(string siloId, Exception exception);

    [LoggerMessage(EventId = LogEvents.PartitionMapReconcileFailed, Level = LogLevel.Warning, Message = "Silo {SiloId} could not reconcile the partition map ({Failures} failed rounds in a row); it retries in {DelayMs} ms. Partitions keep their roles meanwhile. Check the store's health.")]
    private partial void LogReconcileFailed(string siloId, int failures, double delayMs, Exception exception);

    [LoggerMessage(EventId = LogEvents.PartitionMapReconciled, Level = LogLevel.Information, Message = "Silo {SiloId} reconciled the partition map again after {Failures} failed rounds.")]
    private partial void LogReconcileRecovered(string siloId, int failures);

    // 100 ms, doubling per failed round, at most a second: the map follows a store that comes back within about that.
    private static TimeSpan ReconcileRetryDelay(int failures) => TimeSpan.FromMilliseconds(Math.Min(1000, 100 << Math.Min(failures - 1, 4)));
}
