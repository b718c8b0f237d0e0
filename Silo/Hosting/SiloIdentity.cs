using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Hosting;

/// <summary>Who this silo is and where it can be reached; what <c>GET /v1/cluster</c> and the handshake report.</summary>
/// <remarks>Computed once: options do not change while the silo runs, and these are read on every map tick and handshake.</remarks>
internal sealed class SiloIdentity
{
    public SiloIdentity(IOptions<SiloOptions> options, TimeProvider time)
    {
        var o = options.Value;
        SiloId = o.EffectiveSiloId;
        StartedAt = time.GetUtcNow();
        Address = new(SiloId, StartedAt.ToUnixTimeMilliseconds());
        SiloEndpoint = $"{o.EffectiveAdvertisedAddress}:{o.EffectiveSiloPort}";
        GatewayEndpoint = $"{o.EffectiveAdvertisedAddress}:{o.EffectiveGatewayPort}";
        HttpEndpoint = $"http://{o.EffectiveAdvertisedAddress}:{o.EffectiveHttpPort}";
    }

    public string SiloId { get; }

    /// <summary>When this incarnation started; a restarted silo is a new incarnation.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>This incarnation: the silo id and its start time in Unix milliseconds.</summary>
    public Membership.SiloIncarnation Address { get; }

    public string SiloEndpoint { get; }

    public string GatewayEndpoint { get; }

    public string HttpEndpoint { get; }

    /// <summary>Set once the partitions are loaded (the count is fixed by the store at cluster creation).</summary>
    public int PartitionCount { get; set; }
}
