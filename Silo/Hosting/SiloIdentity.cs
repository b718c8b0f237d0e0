using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Hosting;

/// <summary>Who this silo is and where it can be reached; what <c>GET /v1/cluster</c> and the handshake report.</summary>
internal sealed class SiloIdentity(IOptions<SiloOptions> options, TimeProvider time)
{
    private readonly SiloOptions _options = options.Value;

    public string SiloId => _options.EffectiveSiloId;

    /// <summary>When this incarnation started; a restarted silo is a new incarnation.</summary>
    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    /// <summary>This incarnation: the silo id and its start time in Unix milliseconds.</summary>
    public Membership.SiloAddress Address => new(SiloId, StartedAt.ToUnixTimeMilliseconds());

    public string SiloEndpoint => $"{_options.EffectiveAdvertisedAddress}:{_options.EffectiveSiloPort}";

    public string GatewayEndpoint => $"{_options.EffectiveAdvertisedAddress}:{_options.EffectiveGatewayPort}";

    public string HttpEndpoint => $"http://{_options.EffectiveAdvertisedAddress}:{_options.EffectiveHttpPort}";

    /// <summary>Set once the partitions are loaded (the count is fixed by the store at cluster creation).</summary>
    public int PartitionCount { get; set; }
}
