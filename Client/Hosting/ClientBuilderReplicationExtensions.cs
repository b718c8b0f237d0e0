using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansReplication.Client;

/// <summary>Adds the State Replicator's client side to an Orleans client.</summary>
public static class ClientBuilderReplicationExtensions
{
    /// <summary>
    /// Adds what <see cref="GrainFactoryReplicationExtensions.GetReplicator{TItem}(IClusterClient, string, Func{TItem, ItemKey}?)"/>
    /// needs: its options (request timeout, backoff, JSON), bound from <paramref name="configure"/>,
    /// and a watch on the client's gateway connections (a call sent through a gateway that died is
    /// sent again at once, not when its attempt times out), and a watch on calls to replicated user
    /// grains (one whose silo died under it fails at once with <c>SiloUnavailableException</c>, not
    /// at the response timeout).
    /// The grain interfaces and their serializers come with the Interfaces assembly.
    /// </summary>
    public static IClientBuilder AddStateReplication(this IClientBuilder client, Action<ReplicationClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var options = client.Services.AddOptions<ReplicationClientOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        client.Services.TryAddSingleton<ConnectionLosses>();
        client.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterConnectionStatusObserver, GatewayLossObserver>());
        client.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutgoingGrainCallFilter, ReplicatedGrainCallWatch>());
        options.Validate(o => o.Errors().Count == 0, "Invalid ReplicationClientOptions (see ReplicationClientOptions.Validate).");
        return client;
    }
}
