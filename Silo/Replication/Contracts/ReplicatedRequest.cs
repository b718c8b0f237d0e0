using Orleans;
using Orleans.Concurrency;

namespace OrleansReplication.Silo.Replication;

/// <summary>A write request that carried an idempotency id, as the partition that applied it recorded it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ReplicatedRequest")]
internal sealed class ReplicatedRequest
{
    /// <summary>The idempotency id's client part.</summary>
    [Id(0)]
    public string ClientId { get; init; } = string.Empty;

    /// <summary>The idempotency id's sequence part (the client never reuses it for another request).</summary>
    [Id(1)]
    public ulong ClientSequence { get; init; }

    /// <summary>The partition's sequence after the request's changes: the request is at a safety level once that level's watermark reaches it.</summary>
    [Id(2)]
    public long LastSequence { get; init; }

    /// <summary>When the primary applied it (Unix milliseconds, the primary's clock): retention by age counts from here on every replica.</summary>
    [Id(3)]
    public long RecordedAtMs { get; init; }

    /// <summary>The results answered to the first attempt, in request order.</summary>
    [Id(4)]
    public ReplicatedResult[] Results { get; init; } = [];
}

/// <summary>The result of one item write of a recorded request.</summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ReplicatedResult")]
internal readonly record struct ReplicatedResult
{
    [Id(0)]
    public string Id { get; init; }

    /// <summary>Null when the item is partitioned by its id.</summary>
    [Id(1)]
    public string? PartitionKey { get; init; }

    [Id(2)]
    public long Version { get; init; }

    [Id(3)]
    public bool Removed { get; init; }

    /// <summary>False for a remove of an item that did not exist (nothing changed).</summary>
    [Id(4)]
    public bool Changed { get; init; }

    /// <summary>True when a set created the item.</summary>
    [Id(5)]
    public bool Created { get; init; }
}
