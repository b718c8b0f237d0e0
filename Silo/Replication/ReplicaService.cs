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
    PartitionMapNotifier notifier,
    Grains.State.IPartitionAccess access,
    Microsoft.Extensions.Options.IOptions<Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata> metadata)
    : global::Orleans.Runtime.GrainService(grainId, silo, loggerFactory), IReplicaService
{
    public Task<ReplicationAck[]> ReplicateAsync(string primary, ReplicationMessage[] records) =>
        Task.FromResult(standbys.Apply(primary, records));

    public Task PingAsync() => Task.CompletedTask;

    public Task<Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata> DescribeAsync() => Task.FromResult(metadata.Value);

    public Task MapChangedAsync(string silo) => notifier.FollowAsync();

    // Grain services interleave their calls at awaits: a write waiting for its standbys does not hold replication up.
    public Task<WriteResult[]> ApplyGrainStateAsync(int partition, string component, ItemWriteData[] writes, SafetyLevel safety, IdempotencyId? id) =>
        GrainStateNames.IsGrainState(component)
            ? access.ApplyAsync(partition, component, writes, safety, id, CancellationToken.None)
            : throw new InvalidRequestException($"Component '{component}' is not a grain's state: write it through the partition grain.");

    public Task<JsonItem[]> GetGrainStateAsync(int partition, string component, ItemKey[] keys)
    {
        if (!GrainStateNames.IsGrainState(component))
        {
            throw new InvalidRequestException($"Component '{component}' is not a grain's state: read it through the partition grain.");
        }

        access.EnsureLeads(partition);
        return Task.FromResult(access.Get(partition, component, keys));
    }
}
