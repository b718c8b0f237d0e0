using Orleans.Concurrency;
using OrleansReplication.Grains.Placement;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Grains;

/// <summary>
/// Serves one partition (key = partition id) on its primary. Reentrant: it holds no state of its
/// own, and the partition's commit loop is the serialization point, so concurrent writes share
/// its commit batches instead of queueing one by one behind each other's replication.
/// </summary>
[PartitionPlacement]
[Reentrant]
[GrainType(GrainTypeName)]
internal sealed class PartitionGrain(IPartitionAccess access, PartitionActivations activations) : Grain, IPartitionGrain
{
    /// <summary>The grain type (what the placement director recognises).</summary>
    public const string GrainTypeName = ReplicationGrainTypes.Partition;

    // Set in the first call that found this silo leading; read and written on the activation's turns only.
    private bool _registered;

    private int Id
    {
        get
        {
            var key = this.GetPrimaryKeyLong();
            return key >= 0 && key < access.PartitionCount
                ? (int)key
                : throw new InvalidRequestException($"Partition {key} does not exist; the cluster has {access.PartitionCount} partitions (0 to {access.PartitionCount - 1}).");
        }
    }

    public async Task<WriteResult[]> ApplyAsync(string component, ItemWriteData[] writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken = default)
    {
        PublicComponent(component);
        var partition = Lead();
        try
        {
            return await access.ApplyAsync(partition, component, writes, safety, id, cancellationToken);
        }
        catch (PartitionMovedException)
        {
            PartitionMoves.Leave(GrainContext, access, (int)this.GetPrimaryKeyLong());
            throw;
        }
    }

    public Task<JsonItem[]> GetAsync(string component, ItemKey[] keys) =>
        Task.FromResult(access.Get(Lead(), PublicComponent(component), keys));

    public Task<PartitionPage> ListAsync(string component, string? after, int limit) =>
        Task.FromResult(access.List(Lead(), PublicComponent(component), after, limit));

    public Task<TimeSpan> GetServingForAsync() =>
        Task.FromResult(access.LedSinceLosingPrimary(Lead()));

    public Task<PartitionProgress> GetProgressAsync() =>
        Task.FromResult(access.GetProgress(Lead()));

    public Task<PartitionProgress> VerifyAsync(bool store, CancellationToken cancellationToken = default) =>
        access.VerifyAsync(Lead(), store, cancellationToken);

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_registered)
        {
            activations.Remove((int)this.GetPrimaryKeyLong(), GrainContext);
        }

        return Task.CompletedTask;
    }

    // Components only: a grain's [ReplicatedState] (GrainStateNames) is its own to read and write.
    private static string PublicComponent(string component) =>
        StateNames.ValidateComponent(component) is { } error ? throw new InvalidRequestException(error) : component;

    private int Lead()
    {
        var partition = Id;
        try
        {
            access.EnsureLeads(partition);
        }
        catch (PartitionMovedException)
        {
            PartitionMoves.Leave(GrainContext, access, (int)this.GetPrimaryKeyLong());
            throw;
        }

        if (!_registered)
        {
            activations.Add(partition, GrainContext);
            _registered = true;
        }

        return partition;
    }
}
