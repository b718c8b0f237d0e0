using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansReplication.Client;

/// <summary>The typed State Replicator API over an Orleans client (or any grain factory).</summary>
public static class GrainFactoryReplicationExtensions
{
    // One context per grain factory: the replicators of a client share its partition count and ids.
    private static readonly ConditionalWeakTable<IGrainFactory, ReplicationContext> Contexts = new();

    /// <summary>
    /// The State Replicator of <paramref name="component"/> over the partition grains, for items whose
    /// key comes from <paramref name="keySelector"/> or a <see cref="StateKeyAttribute"/> property.
    /// Its options come from <c>clientBuilder.AddStateReplication(...)</c> (defaults otherwise).
    /// </summary>
    /// <exception cref="InvalidRequestException"><paramref name="component"/> is not a valid component name.</exception>
    public static IStateReplicator<TItem> GetReplicator<TItem>(this IClusterClient client, string component, Func<TItem, ItemKey>? keySelector = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return GetReplicator(client, component, keySelector, client.ServiceProvider.GetService<IOptions<ReplicationClientOptions>>()?.Value);
    }

    /// <summary>The State Replicator of <paramref name="component"/> over the partition grains of <paramref name="grains"/> (a silo's factory too).</summary>
    /// <exception cref="InvalidRequestException"><paramref name="component"/> is not a valid component name.</exception>
    public static IStateReplicator<TItem> GetReplicator<TItem>(this IGrainFactory grains, string component, Func<TItem, ItemKey>? keySelector = null, ReplicationClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(grains);
        if (StateNames.ValidateComponent(component) is { } error)
        {
            throw new InvalidRequestException(error);
        }

        return new StateReplicator<TItem>(ContextOf(grains, options ?? new ReplicationClientOptions()), component, keySelector ?? StateKeyAccessor<TItem>.Selector);
    }

    // An Orleans client's context watches the gateway connections its AddStateReplication registered.
    internal static ReplicationContext ContextOf(IGrainFactory grains, ReplicationClientOptions options) =>
        Contexts.GetValue(grains, g => new ReplicationContext(g, options, (g as IClusterClient)?.ServiceProvider.GetService<ConnectionLosses>()));
}
