using Orleans.Placement;

namespace OrleansReplication.Grains.Placement;

/// <summary>
/// Places a grain on the primary of the partition its key hashes to (the silo's partition map),
/// so its calls commit where the partition's warm copy is led. Placement is only an optimisation:
/// a grain still checks on every call that its silo leads the partition.
/// </summary>
[Serializable]
[GenerateSerializer]
[Immutable]
[SuppressReferenceTracking]
[Alias("OrleansReplication.PartitionPlacement")]
public sealed class PartitionPlacement : PlacementStrategy;

/// <summary>Marks a grain class as placed by <see cref="PartitionPlacement"/>: on its partition's primary.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class PartitionPlacementAttribute() : PlacementAttribute(new PartitionPlacement());
