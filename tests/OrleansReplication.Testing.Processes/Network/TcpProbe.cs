namespace OrleansReplication.Testing.Processes.Network;

/// <summary>How a TCP connection attempt ended (<see cref="IsolatedNetwork.ProbeTcpAsync"/>).</summary>
public enum TcpProbe
{
    /// <summary>The connection was made.</summary>
    Connected,

    /// <summary>The peer answered with a reset: reachable, nothing listening.</summary>
    Refused,

    /// <summary>No answer within the timeout: the packets were dropped (a partition).</summary>
    TimedOut,

    /// <summary>No route there: the address is beyond the network.</summary>
    Unreachable,
}
