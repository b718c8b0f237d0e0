namespace OrleansReplication.Protocol;

/// <summary>
/// The message type byte of a frame. Numbers are a wire contract: never reuse one. 3-4, 30-32 and
/// 40-41 were the silo-to-silo transport's (replication now runs over Orleans messaging).
/// </summary>
public enum MessageType : byte
{
    /// <summary>First frame of a connection (<see cref="Hello"/>).</summary>
    Hello = 1,

    /// <summary>Answer to <see cref="Hello"/> (<see cref="HelloReply"/>).</summary>
    HelloReply = 2,

    /// <summary>Sets and removes (<see cref="ApplyRequest"/>).</summary>
    Apply = 10,

    /// <summary>Answer to <see cref="Apply"/> (<see cref="ApplyReply"/>).</summary>
    ApplyReply = 11,

    /// <summary>Reads items (<see cref="GetRequest"/>).</summary>
    Get = 12,

    /// <summary>Answer to <see cref="Get"/> (<see cref="GetReply"/>).</summary>
    GetReply = 13,

    /// <summary>Lists a page of items (<see cref="ListRequest"/>).</summary>
    List = 14,

    /// <summary>Answer to <see cref="List"/> (<see cref="ListReply"/>).</summary>
    ListReply = 15,

    /// <summary>Asks for the partition map (<see cref="GetPartitionMapRequest"/>).</summary>
    GetPartitionMap = 16,

    /// <summary>Answer to <see cref="GetPartitionMap"/> (<see cref="PartitionMapReply"/>).</summary>
    PartitionMapReply = 17,

    /// <summary>Liveness probe (<see cref="Ping"/>).</summary>
    Ping = 20,

    /// <summary>Answer to <see cref="Ping"/> (<see cref="Ping"/>).</summary>
    Pong = 21,

    /// <summary>A request failed (<see cref="ErrorReply"/>); carries the request's correlation id.</summary>
    Error = 255,
}
