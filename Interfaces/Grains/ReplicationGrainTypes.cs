namespace OrleansReplication;

/// <summary>
/// The Orleans names of the replication's own grain types and of its placement strategy, for the
/// code on both sides that must recognise them (the silo's placement director, the client's call watch).
/// </summary>
public static class ReplicationGrainTypes
{
    /// <summary>The partition grain's type (integer key = partition id).</summary>
    public const string Partition = "replication.partition";

    /// <summary>The item grain's type (key <c>component/id</c>).</summary>
    public const string StateItem = "replication.stateitem";

    /// <summary>The grain property value of the partition placement strategy (its class name, as Orleans records it).</summary>
    public const string PartitionPlacement = "PartitionPlacement";

    /// <summary>Whether <paramref name="grainType"/> is a user grain rather than one of the replication's own.</summary>
    public static bool IsUserGrain(string grainType) => grainType is not (Partition or StateItem);
}
