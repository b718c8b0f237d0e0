using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OrleansReplication.Silo.Hosting;

/// <summary>Who this silo is and where it can be reached; what <c>GET /v1/cluster</c> reports.</summary>
/// <remarks>Computed once: options do not change while the silo runs, and these are read on every map tick.</remarks>
internal sealed class SiloIdentity
{
    public SiloIdentity(IOptions<SiloOptions> options, ILocalSiloDetails local, TimeProvider time)
    {
        var o = options.Value;
        // Orleans' silo name is how peers name this silo (the executable sets it from Silo:SiloId).
        SiloId = local.Name;
        StartedAt = time.GetUtcNow();

        // Orleans' generation tells a restarted silo from the one that held the data before.
        Address = new(SiloId, local.SiloAddress.Generation);
        OrleansAddress = local.SiloAddress;
        SiloEndpoint = local.SiloAddress.Endpoint.ToString();
        GatewayEndpoint = local.GatewayAddress?.Endpoint.ToString() ?? string.Empty;
        HttpEndpoint = o.EffectiveHttpEndpoint;
    }

    public string SiloId { get; }

    /// <summary>When this incarnation started.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>This incarnation: the silo id (Orleans' silo name) and Orleans' generation.</summary>
    public Membership.SiloIncarnation Address { get; }

    /// <summary>This silo's Orleans address.</summary>
    public SiloAddress OrleansAddress { get; }

    /// <summary>Orleans' silo endpoint (<c>ip:port</c>): silo-to-silo traffic, replication included.</summary>
    public string SiloEndpoint { get; }

    public string GatewayEndpoint { get; }

    public string HttpEndpoint { get; }

    /// <summary>Set once the partitions are loaded (the count is fixed by the store at cluster creation).</summary>
    public int PartitionCount { get; set; }
}
