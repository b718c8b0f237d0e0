using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansReplication.Client;

/// <summary>Registers a shared <see cref="ReplicationClient"/> with dependency injection.</summary>
public static class ReplicationClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="ReplicationClient"/> (and <see cref="IGrainFactory"/>) that connects in the
    /// background; its options bind from configuration with <c>services.Configure&lt;ReplicationClientOptions&gt;</c>.
    /// </summary>
    public static IServiceCollection AddReplicationClient(this IServiceCollection services, Action<ReplicationClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<ReplicationClientOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.TryAddSingleton(sp => ReplicationClient.Create(sp.GetRequiredService<IOptions<ReplicationClientOptions>>().Value, sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<IGrainFactory>(sp => sp.GetRequiredService<ReplicationClient>());
        return services;
    }
}
