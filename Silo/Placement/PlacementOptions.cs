namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Weights of the buddy-group choice (seed 002: buddies chosen by weighted node attributes).
/// A candidate's cost is the sum of the weights of what it shares with the partition's other
/// replicas, plus its load; the cheapest candidate wins. Sharing a host outweighs any load, so
/// two replicas land on one host only when no other host is alive.
/// </summary>
public sealed class PlacementOptions
{
    /// <summary>How many copies of each partition: one primary and ReplicationFactor-1 standbys.</summary>
    /// <value>Defaults to 2.</value>
    public int ReplicationFactor { get; set; } = 2;

    /// <summary>Whether primaries move to in-sync standbys on silos below their share (graceful handoff), so every silo leads its share.</summary>
    /// <value>Defaults to true.</value>
    public bool BalancePrimaries { get; set; } = true;

    /// <summary>Cost of a candidate on the same host as another replica of the partition.</summary>
    /// <value>Defaults to 1,000,000.</value>
    public long SameHostCost { get; set; } = 1_000_000;

    /// <summary>Cost of a candidate in the same zone as another replica.</summary>
    /// <value>Defaults to 100,000.</value>
    public long SameZoneCost { get; set; } = 100_000;

    /// <summary>Cost of a candidate in the same rack as another replica.</summary>
    /// <value>Defaults to 10,000.</value>
    public long SameRackCost { get; set; } = 10_000;

    /// <summary>Cost of each partition (primary or standby) a candidate already carries.</summary>
    /// <value>Defaults to 10.</value>
    public long PerPartitionCost { get; set; } = 10;

    /// <summary>Cost per GiB of memory a candidate has less than the roomiest live silo.</summary>
    /// <value>Defaults to 1.</value>
    public long PerGiBLessFreeMemoryCost { get; set; } = 1;
}
