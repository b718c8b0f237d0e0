namespace OrleansReplication.Silo.Membership;

/// <summary>Where a silo incarnation is in its life, as placement sees it (Orleans' status plus drains).</summary>
internal enum SiloStatus
{
    Joining = 1,
    Active = 2,
    ShuttingDown = 3,
    Dead = 4,
}

/// <summary>One silo incarnation as placement sees it: Orleans' membership entry and the silo's published metadata.</summary>
/// <param name="Address">The silo incarnation: Orleans' silo name and generation.</param>
/// <param name="Status">Its status.</param>
/// <param name="SiloEndpoint">Orleans' silo endpoint, <c>ip:port</c> (silo-to-silo traffic, replication included).</param>
/// <param name="GatewayEndpoint">Client gateway endpoint, <c>host:port</c>.</param>
/// <param name="HttpEndpoint">HTTP API base URL.</param>
/// <param name="Zone">Static placement attribute: availability zone ("" when unknown).</param>
/// <param name="Host">Static placement attribute: physical host or node ("" when unknown).</param>
/// <param name="Rack">Static placement attribute: rack ("" when unknown).</param>
/// <param name="IAmAlive">Unused since membership is Orleans' (0); kept for the record's shape in tests.</param>
/// <param name="FreeMemoryBytes">Placement attribute: memory available to the silo's process.</param>
/// <param name="PartitionsCarried">Unused (0): placement counts partitions from the map itself.</param>
/// <param name="Silo">The Orleans silo address, for calls to the silo; null in tests that build records by hand.</param>
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
    int PartitionsCarried,
    Orleans.Runtime.SiloAddress? Silo = null);
