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
