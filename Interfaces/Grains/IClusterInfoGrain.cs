namespace OrleansReplication;

/// <summary>
/// What a client needs to know about the cluster, answered by the silo it calls (a stateless
/// worker: no placement, no state): the partition count (fixed for the cluster's life) and the
/// silos' HTTP endpoints (watches and cluster events use HTTP).
/// </summary>
[Alias("OrleansReplication.IClusterInfoGrain")]
public interface IClusterInfoGrain : IGrainWithIntegerKey
{
    /// <summary>The cluster's shape as the answering silo knows it.</summary>
    /// <exception cref="ReplicaUnavailableException">The silo is still loading its partitions.</exception>
    [Alias("Get")]
    Task<ClusterInfo> GetAsync();
}

/// <summary>The cluster's shape as one silo knows it.</summary>
/// <param name="PartitionCount">The number of partitions.</param>
/// <param name="HttpEndpoints">The live silos' HTTP base URLs, the answering silo's first.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.ClusterInfo")]
public sealed record ClusterInfo(int PartitionCount, string[] HttpEndpoints);
