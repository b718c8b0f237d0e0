using Orleans;
using Orleans.Services;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// This silo's replica service, one per silo (an Orleans grain service): standby replicas take
/// the records of the partitions other silos lead, and peers say when they changed the partition map.
/// </summary>
[Alias("OrleansReplication.IReplicaService")]
internal interface IReplicaService : IGrainService
{
    /// <summary>
    /// Applies every record one primary silo queued for this silo (batches and snapshot chunks of
    /// possibly several partitions), in order, and answers the acknowledgements: at least one per
    /// partition that had a record, in the order they arose.
    /// </summary>
    /// <param name="primary">The sending silo incarnation, for logs.</param>
    /// <param name="records">The records, in the order the primary queued them.</param>
    [Alias("Replicate")]
    Task<ReplicationAck[]> ReplicateAsync(string primary, ReplicationMessage[] records);

    /// <summary>Answers at once: a peer's ping, to tell a broken link from a live one (<see cref="Membership.PeerReachabilityMonitor"/>).</summary>
    [Alias("Ping")]
    Task PingAsync();

    /// <summary>
    /// This silo's Orleans metadata (zone, host, rack, endpoints): for a peer whose Orleans metadata
    /// cache lacks it (Orleans fetches it only from silos whose membership row is fresh, once per
    /// membership change), so that peer does not take this live silo for one still joining.
    /// </summary>
    [Alias("Describe")]
    Task<Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata> DescribeAsync();

    /// <summary>The partition map changed (<paramref name="silo"/> changed it): re-read it now; completes once this silo follows it.</summary>
    [Alias("MapChanged")]
    Task MapChangedAsync(string silo);

    /// <summary>
    /// Applies a grain's own state write (<c>grain:</c> components, which the partition grain refuses)
    /// on this silo as its partition's primary: the write of an activation that found its partition
    /// handed off under it, sent on by its silo. Reached by silos only (a grain service).
    /// </summary>
    /// <exception cref="PartitionMovedException">This silo does not lead the partition either; nothing was applied.</exception>
    [Alias("ApplyGrainState")]
    Task<WriteResult[]> ApplyGrainStateAsync(int partition, string component, ItemWriteData[] writes, SafetyLevel safety, IdempotencyId? id);

    /// <summary>Reads a grain's own state on this silo as its partition's primary (an activation placed as its partition moved).</summary>
    /// <exception cref="PartitionMovedException">This silo does not lead the partition either.</exception>
    [Alias("GetGrainState")]
    Task<JsonItem[]> GetGrainStateAsync(int partition, string component, ItemKey[] keys);
}

/// <summary>Reaches the replica service of a given silo.</summary>
internal interface IReplicaServiceClient : Orleans.Services.IGrainServiceClient<IReplicaService>
{
    /// <summary>The replica service on <paramref name="silo"/>.</summary>
    IReplicaService GetService(Orleans.Runtime.SiloAddress silo);
}

/// <summary>The grain-service client of <see cref="IReplicaService"/>.</summary>
internal sealed class ReplicaServiceClient(IServiceProvider services)
    : Orleans.Runtime.Services.GrainServiceClient<IReplicaService>(services), IReplicaServiceClient
{
    public IReplicaService GetService(Orleans.Runtime.SiloAddress silo) => GetGrainService(silo);
}
