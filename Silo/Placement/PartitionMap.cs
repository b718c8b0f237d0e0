using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Placement;

/// <summary>An immutable view of the partition map, indexed by partition id.</summary>
/// <param name="Assignments">One row per partition (index = partition id); null where none is assigned yet.</param>
internal sealed record PartitionMap(IReadOnlyList<PartitionAssignment?> Assignments)
{
    public static PartitionMap Empty { get; } = new([]);

    public PartitionAssignment? this[int partitionId] => partitionId < Assignments.Count ? Assignments[partitionId] : null;

    public bool IsComplete => Assignments.Count > 0 && Assignments.All(a => a is not null);

    /// <summary>The partitions <paramref name="silo"/> leads.</summary>
    public IEnumerable<PartitionAssignment> LedBy(SiloIncarnation silo) => Assignments.Where(a => a?.Primary == silo)!;

    /// <summary>How many partitions <paramref name="silo"/> holds a copy of, as primary or standby.</summary>
    public int CarriedBy(SiloIncarnation silo) => Assignments.Count(a => a is not null && (a.Primary == silo || a.Standbys.Contains(silo)));

    public static PartitionMap From(int partitionCount, IEnumerable<PartitionAssignment> rows)
    {
        var assignments = new PartitionAssignment?[partitionCount];
        foreach (var row in rows)
        {
            if (row.PartitionId < partitionCount)
            {
                assignments[row.PartitionId] = row;
            }
        }

        return new PartitionMap(assignments);
    }
}
