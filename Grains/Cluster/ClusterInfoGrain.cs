using Orleans.Concurrency;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Grains.Cluster;

/// <summary>Answers clients' questions about the cluster from the silo they call (a local stateless worker).</summary>
[StatelessWorker]
[Reentrant]
internal sealed class ClusterInfoGrain(IPartitionAccess access) : Grain, IClusterInfoGrain
{
    public Task<ClusterInfo> GetAsync() => Task.FromResult(access.GetClusterInfo());
}
