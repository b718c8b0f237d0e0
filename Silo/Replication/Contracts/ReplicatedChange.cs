using Orleans;
using Orleans.Concurrency;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// One applied change of one item. <see cref="Sequence"/> is the partition's sequence number of
/// the change, which is also the item's new version (for a removal: the sequence number of the removal).
/// Immutable once sent: <see cref="Value"/> is the item's own JSON array, shared, never copied.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ReplicatedChange")]
internal sealed class ReplicatedChange
{
    [Id(0)]
    public string Component { get; init; } = string.Empty;

    /// <summary>"" when the item is partitioned by its id.</summary>
    [Id(1)]
    public string PartitionKey { get; init; } = string.Empty;

    [Id(2)]
    public string Id { get; init; } = string.Empty;

    [Id(3)]
    public long Sequence { get; init; }

    /// <summary>The item's JSON (UTF-8), byte for byte as written; empty when <see cref="Remove"/> is set.</summary>
    [Id(4)]
    public byte[] Value { get; init; } = [];

    [Id(5)]
    public bool Remove { get; init; }

    /// <summary>
    /// Set on the last change of a write request that carried an idempotency id: the request as
    /// its primary answered it, so that a standby (and, after promotion, the new primary) answers
    /// a retry with the same results instead of applying it again.
    /// </summary>
    [Id(6)]
    public ReplicatedRequest? Request { get; init; }
}
