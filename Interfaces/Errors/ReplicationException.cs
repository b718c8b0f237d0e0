namespace OrleansReplication;

/// <summary>The base of every error the State Replicator API reports. Callers branch on the derived types.</summary>
public class ReplicationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReplicationException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The request is malformed: a bad component name, id, JSON body or argument. Retrying it unchanged fails again.</summary>
public sealed class InvalidRequestException(string message) : ReplicationException(message);

/// <summary>An item or request is larger than the configured limit.</summary>
public sealed class ItemTooLargeException(string message) : ReplicationException(message);

/// <summary>
/// The cluster cannot serve the request now (starting, stopping, partition moving, connection lost).
/// Safe to retry after <see cref="RetryAfter"/>.
/// </summary>
public sealed class ReplicaUnavailableException(string message, TimeSpan retryAfter, Exception? innerException = null)
    : ReplicationException(message, innerException)
{
    /// <summary>How long to wait before retrying.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>The peer broke the wire protocol (bad frame, unknown message, version mismatch).</summary>
public sealed class ProtocolException(string message) : ReplicationException(message);

/// <summary>
/// The silo that got the request does not lead the item's partition (it moved, or this silo holds
/// only a standby copy). Nothing was applied: send the request to the primary named here.
/// </summary>
public sealed class PartitionMovedException(int partition, string? primaryGatewayEndpoint, string? primaryHttpEndpoint, string message)
    : ReplicationException(message)
{
    /// <summary>The item's partition.</summary>
    public int Partition { get; } = partition;

    /// <summary>The primary's gateway endpoint (<c>host:port</c>), when known.</summary>
    public string? PrimaryGatewayEndpoint { get; } = primaryGatewayEndpoint;

    /// <summary>The primary's HTTP base URL, when known.</summary>
    public string? PrimaryHttpEndpoint { get; } = primaryHttpEndpoint;
}

/// <summary>
/// A listener's cursor points before the oldest change the silo still retains (it was away, or
/// read too slowly, for too long). Nothing was skipped: restart the watch without a cursor to get
/// a fresh snapshot.
/// </summary>
public sealed class CursorExpiredException(string message) : ReplicationException(message);
