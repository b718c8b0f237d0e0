namespace OrleansReplication.Silo.Hosting;

/// <summary>The silo's settings (configuration section <c>Silo</c>; environment variables <c>Silo__Name</c>; command-line options).</summary>
public sealed class SiloOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Silo";

    /// <summary>The Orleans cluster id: silos with the same id and store form one cluster.</summary>
    /// <value>Defaults to <c>orleans-replication</c>.</value>
    public string ClusterId { get; set; } = "orleans-replication";

    /// <summary>The Orleans service id: stays the same across deployments of one service (new cluster ids).</summary>
    /// <value>Defaults to <c>orleans-replication</c>.</value>
    public string ServiceId { get; set; } = "orleans-replication";

    /// <summary>Added to every port so several silos run on one machine.</summary>
    /// <value>Defaults to 0.</value>
    public int Instance { get; set; }

    /// <summary>The silo's id in logs and the cluster; empty means <c>silo-{host}-{siloPort}</c>.</summary>
    /// <value>Defaults to empty.</value>
    public string SiloId { get; set; } = string.Empty;

    /// <summary>The address the silo's listeners bind.</summary>
    /// <value>Defaults to 127.0.0.1 (a laptop); use 0.0.0.0 in containers.</value>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The address other silos and clients reach this silo at; empty means <see cref="ListenAddress"/>.</summary>
    /// <value>Defaults to empty.</value>
    public string AdvertisedAddress { get; set; } = string.Empty;

    /// <summary>The silo-to-silo port (Orleans' silo port: membership, grain calls, replication), before <see cref="Instance"/> is added.</summary>
    /// <value>Defaults to 11111.</value>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The client gateway port, before <see cref="Instance"/> is added.</summary>
    /// <value>Defaults to 30000.</value>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The HTTP API port, before <see cref="Instance"/> is added.</summary>
    /// <value>Defaults to 8080.</value>
    public int HttpPort { get; set; } = 8080;

    /// <summary>Where the embedded store (SQLite) keeps its file.</summary>
    /// <value>Defaults to <c>./data</c>.</value>
    public string DataDir { get; set; } = "data";

    /// <summary>The store provider: <c>sqlite</c> (embedded) or <c>postgres</c>.</summary>
    /// <value>Defaults to <c>sqlite</c>.</value>
    public string Storage { get; set; } = "sqlite";

    /// <summary>The store's ADO.NET connection string; for SQLite, empty means a file in <see cref="DataDir"/>.</summary>
    /// <value>Defaults to empty.</value>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>The cluster's partition count, used only when the store holds no cluster yet.</summary>
    /// <value>Defaults to 64.</value>
    public int PartitionCount { get; set; } = 64;

    /// <summary>The largest item, in bytes of JSON.</summary>
    /// <value>Defaults to 1 MiB.</value>
    public int MaxItemBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The largest HTTP batch body, in bytes (named for the frames of the silo transport that Orleans
    /// replaced; the name stays so that existing configuration keeps working).
    /// </summary>
    /// <value>Defaults to 16 MiB.</value>
    public int MaxFrameBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>The largest page of a listing.</summary>
    /// <value>Defaults to 1000.</value>
    public int MaxListLimit { get; set; } = 1000;

    /// <summary>The safety level of writes that do not name one.</summary>
    /// <value>Defaults to <see cref="SafetyLevel.Applied"/>.</value>
    public SafetyLevel DefaultSafety { get; set; } = SafetyLevel.Applied;

    internal int EffectiveSiloPort => SiloPort + Instance;

    internal int EffectiveGatewayPort => GatewayPort + Instance;

    internal int EffectiveHttpPort => HttpPort + Instance;

    internal string EffectiveAdvertisedAddress => string.IsNullOrEmpty(AdvertisedAddress)
        ? (ListenAddress is "0.0.0.0" or "::" ? Environment.MachineName : ListenAddress)
        : AdvertisedAddress;

    /// <summary>The HTTP API's address as peers and clients use it.</summary>
    internal string EffectiveHttpEndpoint => $"http://{EffectiveAdvertisedAddress}:{EffectiveHttpPort}";

    internal string EffectiveSiloId => string.IsNullOrEmpty(SiloId) ? $"silo-{EffectiveAdvertisedAddress}-{EffectiveSiloPort}" : SiloId;
}
