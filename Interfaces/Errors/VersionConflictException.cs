namespace OrleansReplication;

/// <summary>One write whose version condition did not hold.</summary>
/// <param name="Key">The item's key.</param>
/// <param name="Expected">The condition the write gave.</param>
/// <param name="CurrentVersion">The item's current version; 0 when it does not exist.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.VersionConflict")]
public sealed record VersionConflict(ItemKey Key, Expect Expected, long CurrentVersion);

/// <summary>
/// A conditional write found another version than it expected (a stale write, gstate's
/// "stale state"). Nothing of the conflicting partition's part of the call was applied.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.VersionConflictException")]
public sealed class VersionConflictException : ReplicationException
{
    /// <summary>Creates the exception.</summary>
    public VersionConflictException(IReadOnlyList<VersionConflict> conflicts, IReadOnlyList<WriteResult>? applied = null)
        : base(Describe(conflicts))
    {
        Conflicts = conflicts;
        Applied = applied ?? [];
    }

    /// <summary>Every write whose condition failed, with the item's current version.</summary>
    [Id(0)]
    public IReadOnlyList<VersionConflict> Conflicts { get; private set; }

    /// <summary>
    /// The writes of other partitions of the same call that were applied (a call is atomic per
    /// partition, not across partitions). Empty when the call touched one partition.
    /// </summary>
    [Id(1)]
    public IReadOnlyList<WriteResult> Applied { get; private set; }

    private static string Describe(IReadOnlyList<VersionConflict> conflicts)
    {
        if (conflicts.Count == 0)
        {
            return "Version conflict.";
        }

        var first = conflicts[0];
        var current = first.CurrentVersion == 0 ? "it does not exist" : $"it is at version {first.CurrentVersion}";
        var more = conflicts.Count > 1 ? $" (and {conflicts.Count - 1} more)" : string.Empty;
        return $"Stale write to '{first.Key}': expected {first.Expected}, but {current}{more}. Read the item again and retry with its current version.";
    }
}
