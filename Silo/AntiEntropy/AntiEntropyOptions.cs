namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Anti-entropy (configuration section <c>Replication:AntiEntropy</c>): each primary compares its
/// partitions with their standbys and with the store by per-clump hashes, in the background, and
/// repairs only the clumps that differ.
/// </summary>
public sealed class AntiEntropyOptions
{
    /// <summary>
    /// Clumps per partition: the unit a repair sends. Every silo of a cluster must use the same
    /// number. Zero turns anti-entropy off (no hashes are kept).
    /// </summary>
    /// <value>Defaults to 64: 512 bytes of clump hashes per partition, and a repair sends 1/64 of it.</value>
    public int Clumps { get; set; } = 64;

    /// <summary>
    /// How often each partition's primary compares it with every in-sync standby (the checks of a
    /// silo's partitions are spread over this period). <see cref="Timeout.InfiniteTimeSpan"/>: never.
    /// </summary>
    /// <value>Defaults to 30 s.</value>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often each partition's primary compares the store's rows with its warm copy (a read of
    /// every row of the partition; one partition at a time per silo). <see cref="Timeout.InfiniteTimeSpan"/>: never.
    /// </summary>
    /// <value>Defaults to 10 minutes.</value>
    public TimeSpan StoreCheckInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How many checks in a row may find a standby diverged (each followed by a repair) before it
    /// is taken out of the in-sync set and sent a full snapshot, with an error in the log.
    /// </summary>
    /// <value>Defaults to 3.</value>
    public int MaxRepairsInARow { get; set; } = 3;
}
