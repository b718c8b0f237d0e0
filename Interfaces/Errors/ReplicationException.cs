namespace OrleansReplication;

/// <summary>The base of every error the State Replicator API reports. Callers branch on the derived types.</summary>
/// <remarks>
/// Every derived type is an Orleans-serializable exception: a grain that throws one, the caller of
/// the grain gets the same type with the same data (message and the type's own properties).
/// </remarks>
[GenerateSerializer]
[Alias("OrleansReplication.ReplicationException")]
public class ReplicationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReplicationException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The request is malformed: a bad component name, id, JSON body or argument. Retrying it unchanged fails again.</summary>
[GenerateSerializer]
[Alias("OrleansReplication.InvalidRequestException")]
public sealed class InvalidRequestException(string message) : ReplicationException(message);

/// <summary>
/// A stored item is not JSON of the type the replicator reads (<c>GetReplicator&lt;T&gt;</c>): it was
/// written in another shape, by HTTP or another client. Nothing is changed; read the component as
/// <c>JsonElement</c> to see or mend the item.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.ItemFormatException")]
public sealed class ItemFormatException(string component, string item, long version, string message, Exception? innerException = null)
    : ReplicationException(message, innerException)
{
    /// <summary>The item's component.</summary>
    [Id(0)]
    public string Component { get; private set; } = component;

    /// <summary>The item (<c>partitionKey/id</c> when it has a partition key).</summary>
    [Id(1)]
    public string Item { get; private set; } = item;

    /// <summary>The item's version.</summary>
    [Id(2)]
    public long Version { get; private set; } = version;
}

/// <summary>An item or request is larger than the configured limit.</summary>
[GenerateSerializer]
[Alias("OrleansReplication.ItemTooLargeException")]
public sealed class ItemTooLargeException(string message) : ReplicationException(message);

/// <summary>
/// An idempotency id (HTTP <c>Idempotency-Key</c>) was used again with another request: other
/// items or another body. Nothing was applied; the first request's outcome stands. Use a fresh
/// id for a new request.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.IdempotencyKeyReusedException")]
public sealed class IdempotencyKeyReusedException(string message) : ReplicationException(message);

/// <summary>
/// The cluster cannot serve the request now (starting, stopping, partition moving, connection lost).
/// Safe to retry after <see cref="RetryAfter"/>.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.ReplicaUnavailableException")]
public class ReplicaUnavailableException(string message, TimeSpan retryAfter, Exception? innerException = null)
    : ReplicationException(message, innerException)
{
    /// <summary>How long to wait before retrying.</summary>
    [Id(0)]
    public TimeSpan RetryAfter { get; private set; } = retryAfter;
}

/// <summary>
/// A <see cref="SafetyLevel.Durable"/> write that the store did not confirm within the silo's
/// <c>Replication:DurableWriteTimeout</c>: the store is down or far behind. The write may have been
/// applied (in memory and on the standbys), and then it becomes durable when the store takes it;
/// writing again with the same <see cref="IdempotencyId"/> (HTTP: the same <c>Idempotency-Key</c>)
/// resolves it: answered from the first attempt once durable, this error again while the store is
/// still down, applied now if the first attempt never was. Not retried by the client on its own.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.StoreUnavailableException")]
public sealed class StoreUnavailableException(string message, TimeSpan retryAfter, IdempotencyId? idempotencyId)
    : ReplicaUnavailableException(message, retryAfter)
{
    /// <summary>The write's idempotency id, to write again with (null when the write carried none).</summary>
    [Id(0)]
    public IdempotencyId? IdempotencyId { get; private set; } = idempotencyId;
}

/// <summary>
/// The silo that got the request does not lead the item's partition (it moved, or the activation
/// was placed on a silo that holds only a standby copy). Nothing was applied; the activation that
/// answered deactivates, so sending the request again (with the same idempotency id) places it
/// afresh on the partition's primary.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.PartitionMovedException")]
public sealed class PartitionMovedException(int partition, string message, TimeSpan retryAfter)
    : ReplicaUnavailableException(message, retryAfter)
{
    /// <summary>Creates the exception with a short retry delay.</summary>
    public PartitionMovedException(int partition, string message)
        : this(partition, message, TimeSpan.FromMilliseconds(20))
    {
    }

    /// <summary>The item's partition.</summary>
    [Id(0)]
    public int Partition { get; private set; } = partition;
}

/// <summary>The peer broke the wire protocol (bad frame, unknown message, version mismatch).</summary>
[GenerateSerializer]
[Alias("OrleansReplication.ProtocolException")]
public sealed class ProtocolException(string message) : ReplicationException(message);

/// <summary>
/// A listener's cursor points before the oldest change the silo still retains (it was away, or
/// read too slowly, for too long). Nothing was skipped: restart the watch without a cursor to get
/// a fresh snapshot.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.CursorExpiredException")]
public sealed class CursorExpiredException(string message) : ReplicationException(message);

/// <summary>
/// A write spanning partitions was applied in some partitions (<see cref="Applied"/>, atomically
/// each) and not in others, which could not be reached in time (the inner exception says why).
/// Sending the same write again with the same idempotency id applies the rest once.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.PartiallyAppliedException")]
public sealed class PartiallyAppliedException(string message, IReadOnlyList<WriteResult> applied, TimeSpan retryAfter, Exception? innerException = null)
    : ReplicaUnavailableException(message, retryAfter, innerException)
{
    /// <summary>The writes of the partitions that applied their part.</summary>
    [Id(0)]
    public IReadOnlyList<WriteResult> Applied { get; private set; } = applied;
}
