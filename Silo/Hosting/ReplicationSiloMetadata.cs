using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Runtime.MembershipService.SiloMetadata;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Hosting;

/// <summary>
/// What a silo publishes to its peers as Orleans silo metadata: that it runs the replication, its
/// placement attributes (zone, host, rack, memory) and, where the host serves them, its gateway
/// and HTTP endpoints. Peers count a silo as active for placement only once its metadata arrived.
/// </summary>
internal static class ReplicationSiloMetadata
{
    /// <summary>Present on every silo that runs the replication (a peer without it is not placed on).</summary>
    public const string MemberKey = "replication.member";
    public const string ZoneKey = "replication.zone";
    public const string HostKey = "replication.host";
    public const string RackKey = "replication.rack";
    public const string HttpKey = "replication.http";
    public const string GatewayKey = "replication.gateway";
    public const string MemoryKey = "replication.memory";

    /// <summary>
    /// Publishes the replication's metadata through Orleans' <c>UseSiloMetadata</c>, merged with
    /// the user's own from configuration (<c>Orleans:Metadata</c>). Orleans takes one metadata
    /// registration per silo: a silo that called <c>UseSiloMetadata</c> itself is told to move its
    /// metadata to configuration.
    /// </summary>
    /// <exception cref="InvalidOperationException">The silo already registered its silo metadata.</exception>
    public static ISiloBuilder AddReplicationMetadata(this ISiloBuilder silo)
    {
        var services = silo.Services;
        if (services.Any(s => s.ServiceType == typeof(ReplicationMetadataMarker)))
        {
            return silo;
        }

        if (services.Any(s => s.ServiceType == typeof(ISiloMetadataCache)))
        {
            throw new InvalidOperationException(
                "AddStateReplication publishes this silo's Orleans silo metadata itself; remove the call to UseSiloMetadata and put your own metadata under the Orleans:Metadata configuration section, which is merged in.");
        }

        var membership = silo.Configuration.GetSection(SiloOptions.SectionName + ":Membership").Get<MembershipOptions>() ?? new MembershipOptions();
        var metadata = silo.Configuration.GetSection("Orleans:Metadata").Get<Dictionary<string, string>>() ?? [];
        metadata[MemberKey] = "1";
        metadata[ZoneKey] = membership.Zone;
        metadata[HostKey] = membership.Host;
        metadata[RackKey] = membership.Rack;
        metadata[MemoryKey] = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes.ToString(CultureInfo.InvariantCulture);

        // Endpoints are known here only where the host sets them from the Silo section (the silo executable).
        if (services.LastOrDefault(s => s.ServiceType == typeof(PublishedEndpoints))?.ImplementationInstance is PublishedEndpoints endpoints)
        {
            metadata[HttpKey] = endpoints.Http;
            metadata[GatewayKey] = endpoints.Gateway;
        }

        services.AddSingleton<ReplicationMetadataMarker>();
        return silo.UseSiloMetadata(metadata);
    }

    /// <summary>The HTTP and gateway endpoints a host serves, published with the metadata.</summary>
    internal sealed record PublishedEndpoints(string Http, string Gateway);

    private sealed class ReplicationMetadataMarker;
}
