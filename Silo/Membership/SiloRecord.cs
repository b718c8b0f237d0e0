namespace OrleansReplication.Silo.Membership;

/// <summary>Where a silo incarnation is in its life, as the membership table records it.</summary>
internal enum SiloStatus
{
    Joining = 1,
    Active = 2,
    ShuttingDown = 3,
    Dead = 4,
}

/// <summary>One row of the membership table: a silo incarnation, its endpoints, liveness and placement attributes.</summary>
/// <param name="Address">The silo incarnation.</param>
/// <param name="Status">Its status.</param>
/// <param name="SiloEndpoint">Silo-to-silo endpoint, <c>host:port</c>.</param>
/// <param name="GatewayEndpoint">Client gateway endpoint, <c>host:port</c>.</param>
/// <param name="HttpEndpoint">HTTP API base URL.</param>
/// <param name="Zone">Static placement attribute: availability zone ("" when unknown).</param>
/// <param name="Host">Static placement attribute: physical host or node ("" when unknown).</param>
/// <param name="Rack">Static placement attribute: rack ("" when unknown).</param>
/// <param name="IAmAlive">Last heartbeat, Unix milliseconds.</param>
/// <param name="FreeMemoryBytes">Dynamic placement attribute: free memory at the last heartbeat.</param>
/// <param name="PartitionsCarried">Dynamic placement attribute: partitions (primary or standby) at the last heartbeat.</param>
internal sealed record SiloRecord(
    SiloIncarnation Address,
    SiloStatus Status,
    string SiloEndpoint,
    string GatewayEndpoint,
    string HttpEndpoint,
    string Zone,
    string Host,
    string Rack,
    long IAmAlive,
    long FreeMemoryBytes,
    int PartitionsCarried);
