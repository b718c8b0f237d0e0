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

    /// <summary>The partition map changed (<paramref name="silo"/> changed it): re-read it now; completes once this silo follows it.</summary>
    [Alias("MapChanged")]
    Task MapChangedAsync(string silo);
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
