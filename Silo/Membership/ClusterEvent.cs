namespace OrleansReplication.Silo.Membership;

/// <summary>What happened in the cluster, as this silo saw it (the <c>kind</c> field of <c>GET /v1/cluster/events</c>).</summary>
internal static class ClusterEventKinds
{
    public const string SiloJoined = "silo-joined";
    public const string SiloSuspected = "silo-suspected";
    public const string SiloDeclaredDead = "silo-declared-dead";
    public const string SiloLeft = "silo-left";
    public const string SiloDraining = "silo-draining";
    public const string PartitionPromoted = "partition-promoted";
    public const string PartitionHandedOff = "partition-handed-off";
    public const string ReplicaRepaired = "replica-repaired";
    public const string ReplicaResynced = "replica-resynced";
    public const string ReplicaIncomparable = "replica-incomparable";
    public const string StoreRepaired = "store-repaired";
}

/// <summary>One cluster event: a silo's membership change, a partition's change of primary, or an anti-entropy repair.</summary>
/// <param name="Id">Increasing per silo (the SSE event id).</param>
/// <param name="Time">When this silo saw it.</param>
/// <param name="Kind">One of <see cref="ClusterEventKinds"/>.</param>
/// <param name="Silo">The silo it is about (for a partition event: the new primary; for a repair: the replica repaired, or <c>store</c>).</param>
/// <param name="Partition">The partition, for partition events.</param>
/// <param name="Epoch">The partition's new epoch, for partition events.</param>
/// <param name="Reason">Why, for an operator.</param>
internal sealed record ClusterEvent(long Id, DateTimeOffset Time, string Kind, string? Silo, int? Partition, long? Epoch, string Reason);
