using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Silo.Transport;

namespace OrleansReplication.Silo.Hosting;

/// <summary>
/// The silo's start and stop, in named stages. Start: store schema → join membership (Joining) →
/// load partitions → Active → partition map reconciled, then kept in step with membership.
/// Stop, in reverse: map loop → partitions (queued writes finish) → leave membership → store.
/// Hosted services start before Kestrel, so nothing is served before the partitions are loaded.
/// </summary>
internal sealed partial class SiloLifecycleService(
    IStateStore store,
    MembershipService membership,
    PartitionMapManager partitionMap,
    PartitionManager partitions,
    SiloMessageRouter router,
    StandbyHost standbys,
    ReplicationRouting replication,
    Diagnostics.ReplicationMetrics metrics,
    SiloIdentity identity,
    IOptions<SiloOptions> options,
    ILogger<SiloLifecycleService> logger) : IHostedService
{
    private readonly ILogger _logger = logger;
    // How often the map is reconciled between membership changes (a read of one table; writes only when the plan is not empty).
    private static readonly TimeSpan MapRefreshInterval = TimeSpan.FromMilliseconds(500);

    private readonly CancellationTokenSource _stopping = new();
    private Task? _mapLoop;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        // Resolved here so the meter exists from the start; it is observed, never called.
        GC.KeepAlive(metrics);
        standbys.Register(router);
        replication.Register(router);
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await membership.StartAsync(cancellationToken).ConfigureAwait(false);
        await partitions.StartAsync(o.PartitionCount, cancellationToken).ConfigureAwait(false);
        identity.PartitionCount = partitions.PartitionCount;
        await membership.MarkActiveAsync(cancellationToken).ConfigureAwait(false);
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

        await replication.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await partitions.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await membership.StopAsync(cancellationToken).ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
    }

    // Every membership change (a silo joined, left or died) triggers a reconciliation, and so does
    // a regular tick: other silos change the map too, and standby moves are bounded per round.
    private async Task MapLoopAsync()
    {
        var token = _stopping.Token;
        await using var changes = membership.WatchAsync(token).GetAsyncEnumerator(token);
        var next = changes.MoveNextAsync().AsTask();
        while (!token.IsCancellationRequested)
        {
            try
            {
                var tick = Task.Delay(MapRefreshInterval, token);
                PartitionMap map;
                if (await Task.WhenAny(next, tick).ConfigureAwait(false) == next)
                {
                    if (!await next.ConfigureAwait(false))
                    {
                        return;
                    }

                    map = await partitionMap.ReconcileAsync(partitions.PartitionCount, changes.Current, token).ConfigureAwait(false);
                    next = changes.MoveNextAsync().AsTask();
                }
                else
                {
                    // Standby moves are bounded per round, so keep reconciling until the plan is empty.
                    map = await partitionMap.ReconcileAsync(partitions.PartitionCount, membership.Current, token).ConfigureAwait(false);
                }

                await FollowMapAsync(map, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                LogReconcileFailed(identity.Address.ToString(), ex);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Roles first (promote, take over, demote), then the links of the partitions led here, then
    // handoffs of partitions led here to in-sync standbys of silos below their share.
    private async Task FollowMapAsync(PartitionMap map, CancellationToken cancellationToken)
    {
        var snapshot = membership.Current;
        await ApplyRolesAndLinksAsync(map, snapshot, cancellationToken).ConfigureAwait(false);
        var balanced = await partitionMap.HandOffAsync(partitions.PartitionCount, snapshot, IsInSyncStandby, cancellationToken).ConfigureAwait(false);
        if (!ReferenceEquals(balanced, map))
        {
            await ApplyRolesAndLinksAsync(balanced, snapshot, cancellationToken).ConfigureAwait(false);
        }
    }

    private bool IsInSyncStandby(int partition, SiloAddress standby) =>
        partitions.Leads(partition) && partitions.Partitions[partition].Links.Any(l => l.InSync && l.Name == standby.ToString());

    private async Task ApplyRolesAndLinksAsync(PartitionMap map, MembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        var replaced = await partitions.ApplyRolesAsync(map, identity.Address, snapshot.Silos, standbys.Copy, cancellationToken).ConfigureAwait(false);
        foreach (var p in replaced)
        {
            standbys.Remove(p);
        }

        await replication.ApplyMapAsync(map, snapshot).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.SiloStarted, Level = LogLevel.Information, Message = "Silo {SiloId} serving with the {Storage} store: HTTP {HttpEndpoint}, gateway {GatewayEndpoint}, silo {SiloEndpoint}, {Partitions} partitions.")]
    private partial void LogStarted(string siloId, string storage, string httpEndpoint, string gatewayEndpoint, string siloEndpoint, int partitions);

    [LoggerMessage(EventId = LogEvents.SiloStopping, Level = LogLevel.Information, Message = "Silo {SiloId} stopping: finishing queued writes, leaving the membership table, then closing the store.")]
    private partial void LogStopping(string siloId);

    [LoggerMessage(EventId = LogEvents.PartitionMapReconcileFailed, Level = LogLevel.Warning, Message = "Silo {SiloId} could not reconcile the partition map; it retries on the next membership change. Check the store's health.")]
    private partial void LogReconcileFailed(string siloId, Exception exception);
}
