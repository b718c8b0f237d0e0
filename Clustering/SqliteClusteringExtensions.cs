using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans;
using Orleans.Hosting;
using Orleans.Messaging;
using OrleansReplication.Clustering.Sqlite;

namespace OrleansReplication.Clustering;

/// <summary>Builder extensions that make a silo or client use the SQLite membership table (the embedded default).</summary>
public static class SqliteClusteringExtensions
{
    /// <summary>
    /// Configures the silo to keep Orleans' membership table in a SQLite file that the cluster's
    /// silos on this machine share (<see cref="SqliteMembershipTable"/>), scoped by the cluster id.
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="configureOptions">Sets <see cref="SqliteClusteringOptions.ConnectionString"/>.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <remarks>Replaces any membership table registered before; calling it again only adds another options delegate.</remarks>
    public static ISiloBuilder UseSqliteClustering(this ISiloBuilder builder, Action<SqliteClusteringOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Use<IMembershipTable, SqliteMembershipTable>(builder.Services, configureOptions);
        return builder;
    }

    /// <summary>
    /// Configures the client to find the cluster's gateways in the SQLite file its silos write
    /// (<see cref="SqliteGatewayListProvider"/>): the Active silos that have a gateway port.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="configureOptions">Sets <see cref="SqliteClusteringOptions.ConnectionString"/>, the silos' file.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <remarks>Replaces any gateway list provider registered before; calling it again only adds another options delegate.</remarks>
    public static IClientBuilder UseSqliteClustering(this IClientBuilder builder, Action<SqliteClusteringOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Use<IGatewayListProvider, SqliteGatewayListProvider>(builder.Services, configureOptions);
        return builder;
    }

    // The provider replaces whatever clustering was registered; the validator is added once.
    private static void Use<TService, TProvider>(IServiceCollection services, Action<SqliteClusteringOptions> configureOptions)
        where TService : class
        where TProvider : class, TService
    {
        ArgumentNullException.ThrowIfNull(configureOptions);
        services.Configure(configureOptions);
        services.RemoveAll<TService>();
        services.AddSingleton<TService, TProvider>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigurationValidator, SqliteClusteringOptionsValidator>());
    }
}
