using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using OrleansReplication.Grains.Placement;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Listeners;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Hosting;

/// <summary>Adds warm-standby state replication to an Orleans silo.</summary>
public static class StateReplicationSiloBuilderExtensions
{
    /// <summary>
    /// Adds the replication services: the store, the partition map and its placement, partition
    /// replicas with their commit loops, replication to standbys and promotion on failure, the item
    /// and partition grains with their placement director, and this silo's placement attributes as
    /// Orleans silo metadata (<see cref="ReplicationSiloMetadata"/>). Settings come from the
    /// <c>Silo</c> configuration section (validated at start); the silo's name, endpoints and
    /// clustering are Orleans' own, so it works in any Orleans silo.
    /// </summary>
    /// <exception cref="InvalidOperationException">The silo called <c>UseSiloMetadata</c> itself (put that metadata under <c>Orleans:Metadata</c> instead).</exception>
    public static ISiloBuilder AddStateReplication(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var services = silo.Services;
        silo.AddReplicationMetadata();
        services.AddOptions<SiloOptions>().BindConfiguration(SiloOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiloOptions>, SiloOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SiloIdentity>();
        services.TryAddSingleton(sp => StateStoreFactory.Create(sp.GetRequiredService<IOptions<SiloOptions>>().Value, sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>()));
        // The replication's typed errors carry the store's exception inside (ours, Npgsql's): Orleans'
        // serializer takes only Microsoft, System and Azure exceptions by default, and the caller
        // would get CodecNotFoundException instead of the error. A caller without the type gets
        // Orleans' fallback exception with its message.
        services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o =>
        {
            o.SupportedNamespacePrefixes.Add("OrleansReplication");
            o.SupportedNamespacePrefixes.Add("Npgsql");
        });
        services.AddOptions<ReplicationOptions>().BindConfiguration(SiloOptions.SectionName + ":" + ReplicationOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReplicationOptions>, ReplicationOptionsValidator>());
        services.TryAddSingleton<PartitionActivations>();
        services.TryAddSingleton(sp => new PartitionManager(
            sp.GetRequiredService<IStateStore>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>(), sp.GetRequiredService<IOptions<ReplicationOptions>>().Value)
        {
            // A partition this silo stops leading: its grains deactivate, so the next call is placed on the new primary.
            LeadershipLost = sp.GetRequiredService<PartitionActivations>().DeactivateAll,
            AntiEntropyReported = report => sp.GetRequiredService<AntiEntropy.AntiEntropyReporter>().Report(report),

            // Deposed without handing off: declared dead; stop unless the membership table answers.
            PartitionDeposed = (p, epoch) => sp.GetRequiredService<DeposedSiloGuard>().OnDeposed(p, epoch),
        });
        services.TryAddSingleton<DeposedSiloGuard>();
        services.TryAddSingleton<AntiEntropy.AntiEntropyReporter>();
        services.AddHostedService<AntiEntropy.AntiEntropyScheduler>();

        // A link broken between two live silos (which Orleans' indirect probes do not see) costs one of them its membership.
        services.AddHostedService<PeerReachabilityMonitor>();

        // Grains: state in the partition replicas, placed on their partition's primary.
        services.TryAddSingleton<IPartitionAccess, PartitionAccess>();
        services.TryAddSingleton<ReplicatedStateFactory>();

        // [ReplicatedState] facets of user grains, as Orleans supplies [PersistentState] ones; their
        // grain classes placed on their partition's primary without an attribute of their own.
        services.TryAddSingleton<Orleans.Runtime.IAttributeToFactoryMapper<ReplicatedStateAttribute>, ReplicatedStateAttributeMapper>();
        services.AddSingleton<Orleans.Metadata.IGrainPropertiesProvider, ReplicatedGrainPlacement>();
        services.TryAddSingleton<Http.ItemCalls>();
        silo.AddPlacementDirector<PartitionPlacement, PartitionPlacementDirector>();
        services.TryAddSingleton(sp => new ChangeFeed(
            sp.GetRequiredService<PartitionManager>(), sp.GetRequiredService<IOptions<ReplicationOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.AddOptions<MembershipOptions>().BindConfiguration(SiloOptions.SectionName + ":Membership").ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MembershipOptions>, MembershipOptionsValidator>());
        services.TryAddSingleton<ClusterEventChannel>();
        services.TryAddSingleton<PartitionMapNotifier>();
        services.TryAddSingleton<GracefulHandoff>();
        services.AddOptions<PlacementOptions>().BindConfiguration(SiloOptions.SectionName + ":Placement");
        services.TryAddSingleton(sp => StateStoreFactory.CreatePartitionMapStore(sp.GetRequiredService<IOptions<SiloOptions>>().Value));
        services.TryAddSingleton<MembershipService>();
        services.TryAddSingleton<PartitionMapManager>();
        services.TryAddSingleton<StandbyHost>();
        silo.AddReplicaService();
        services.AddMetrics();
        services.TryAddSingleton<Diagnostics.ReplicationMetrics>();
        services.TryAddSingleton<ReplicationRouting>();

        // Started by the silo lifecycle (partitions load before the silo is Active); as a hosted
        // service registered after Orleans' own, it drains and stops before Orleans stops.
        services.TryAddSingleton<SiloLifecycleService>();
        services.AddSingleton<Orleans.ILifecycleParticipant<Orleans.Runtime.ISiloLifecycle>>(sp => sp.GetRequiredService<SiloLifecycleService>());
        services.AddHostedService(sp => sp.GetRequiredService<SiloLifecycleService>());
        return silo;
    }

    /// <summary>
    /// Adds this silo's replica service (an Orleans grain service: standbys take replication
    /// records through it, peers announce map changes) and the client that reaches it on any silo.
    /// </summary>
    internal static ISiloBuilder AddReplicaService(this ISiloBuilder silo)
    {
        var services = silo.Services;
        if (services.Any(s => s.ServiceType == typeof(IReplicaServiceClient)))
        {
            return silo;
        }

        silo.AddGrainService<ReplicaService>();
        services.AddSingleton<IReplicaServiceClient, ReplicaServiceClient>();
        return silo;
    }
}
