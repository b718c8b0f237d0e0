using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansReplication.Clustering;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Hosting;

/// <summary>
/// Turns the silo's settings (<c>Silo</c> section, command line) into Orleans' options: cluster and
/// service id, endpoints, silo name, clustering (SQLite file or PostgreSQL), tuned membership
/// timings, and the endpoints it serves (published by <see cref="ReplicationSiloMetadata"/>).
/// </summary>
internal static class OrleansSiloSetup
{
    public static ISiloBuilder ConfigureFromSiloOptions(this ISiloBuilder silo, IConfiguration configuration)
    {
        // Read here only to choose providers and publish metadata; the bound, validated options
        // (ValidateOnStart) configure everything else below.
        var settings = configuration.GetSection(SiloOptions.SectionName).Get<SiloOptions>() ?? new SiloOptions();
        var services = silo.Services;

        // Post-configured: a clustering provider's own defaults (UseLocalhostClustering sets "dev"
        // ids and ports 11111/30000) must not override this silo's settings, which clients rely on.
        services.AddOptions<ClusterOptions>().PostConfigure<IOptions<SiloOptions>>((cluster, o) =>
        {
            cluster.ClusterId = o.Value.ClusterId;
            cluster.ServiceId = o.Value.ServiceId;
        });
        services.AddOptions<Orleans.Configuration.SiloOptions>().Configure<IOptions<SiloOptions>>((s, o) => s.SiloName = o.Value.EffectiveSiloId);
        services.AddOptions<EndpointOptions>().PostConfigure<IOptions<SiloOptions>>((endpoints, o) =>
        {
            var listen = IPAddress.Parse(o.Value.ListenAddress);
            endpoints.AdvertisedIPAddress = ResolveAdvertised(o.Value);
            endpoints.SiloPort = o.Value.EffectiveSiloPort;
            endpoints.SiloListeningEndpoint = new IPEndPoint(listen, o.Value.EffectiveSiloPort);

            // Clients (ReplicationClient, any IClusterClient) connect to Orleans' gateway.
            endpoints.GatewayPort = o.Value.EffectiveGatewayPort;
            endpoints.GatewayListeningEndpoint = new IPEndPoint(listen, o.Value.EffectiveGatewayPort);
        });
        services.AddOptions<ClusterMembershipOptions>().Configure<IOptions<MembershipOptions>>((m, o) =>
        {
            m.ProbeTimeout = o.Value.ProbeTimeout;

            // Orleans adapts each probe's timeout to observed response times, up to 4x ProbeTimeout
            // by default: a SIGSTOPped silo was declared dead after 8.7 s. Up to 1.5x keeps the
            // adaptation for slow answers and a paused silo's detection near 3 s.
            m.MaxProbeTimeout = o.Value.ProbeTimeout * 1.5;
            m.NumMissedProbesLimit = o.Value.MissedProbesLimit;
            m.NumVotesForDeathDeclaration = o.Value.VotesForDeathDeclaration;
            m.IAmAliveTablePublishTimeout = o.Value.IAmAlivePublishTimeout;
            m.TableRefreshTimeout = o.Value.TableRefreshTimeout;

            // A dead silo's entry is of no use after a day; the default keeps a week of them.
            m.DefunctSiloExpiration = TimeSpan.FromDays(1);
        });

        // Published by AddStateReplication with the silo's metadata: the executable serves both.
        services.AddSingleton(new ReplicationSiloMetadata.PublishedEndpoints(
            settings.EffectiveHttpEndpoint,
            $"{settings.EffectiveAdvertisedAddress}:{settings.EffectiveGatewayPort}"));

        if (settings.Storage == "postgres")
        {
            silo.UsePostgresClustering(settings.ConnectionString);
            silo.AddPostgresGrainStorage(settings.ConnectionString);
        }
        else
        {
            // The same SQLite file as the state: silos sharing a data directory form one cluster.
            var file = StateStoreFactory.SqliteConnectionStringOf(settings);
            silo.UseSqliteClustering(o => o.ConnectionString = file);
            silo.AddSqliteGrainStorage(SqliteGrainStorage.ConnectionStringBeside(file));
        }

        return silo;
    }

    // Orleans advertises an IP address; a host name (the default in containers) is resolved once.
    private static IPAddress ResolveAdvertised(SiloOptions options)
    {
        var advertised = options.EffectiveAdvertisedAddress;
        if (IPAddress.TryParse(advertised, out var address))
        {
            return address;
        }

        return Dns.GetHostAddresses(advertised).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new InvalidOperationException($"Silo:AdvertisedAddress '{advertised}' resolves to no IPv4 address; set --advertised-address to this silo's IP.");
    }
}
