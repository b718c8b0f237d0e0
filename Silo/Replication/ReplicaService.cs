using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// The replica service of this silo (an Orleans grain service): hands replication records to the
/// <see cref="StandbyHost"/> and map-change notices to the <see cref="PartitionMapNotifier"/>.
/// Calls run on the service's own scheduler, one turn at a time, in arrival order.
/// </summary>
internal sealed class ReplicaService(
    GrainId grainId,
    global::Orleans.Runtime.Silo silo,
    ILoggerFactory loggerFactory,
    StandbyHost standbys,
    PartitionMapNotifier notifier)
    : global::Orleans.Runtime.GrainService(grainId, silo, loggerFactory), IReplicaService
{
    public Task<ReplicationAck[]> ReplicateAsync(string primary, ReplicationMessage[] records) =>
        Task.FromResult(standbys.Apply(primary, records));

    public Task MapChangedAsync(string silo) => notifier.FollowAsync();
}
