using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Runtime.Membership;
using OrleansReplication.Clustering.Postgres;

namespace OrleansReplication.Clustering;

/// <summary>Builder extensions that make a silo or client use Orleans' ADO.NET clustering on PostgreSQL, with this project's schema.</summary>
public static class PostgresClusteringExtensions
{
    /// <summary>The ADO.NET invariant name of Npgsql, as Orleans' ADO.NET providers know it.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>
    /// Configures the silo to keep Orleans' membership table in PostgreSQL through Orleans' own
    /// ADO.NET clustering (<c>UseAdoNetClustering</c>, invariant <see cref="Invariant"/>), and to apply
    /// <see cref="PostgresClusteringSchema"/> at start, before membership reads its queries.
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="connectionString">An Npgsql connection string; its role must be allowed to create tables.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static ISiloBuilder UsePostgresClustering(this ISiloBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        builder.UseAdoNetClustering((AdoNetClusteringSiloOptions options) => Configure(options, connectionString));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILifecycleParticipant<ISiloLifecycle>, PostgresSchemaSiloStartup>());
        return builder;
    }

    /// <summary>
    /// Configures the client to find the cluster's gateways in PostgreSQL through Orleans' ADO.NET
    /// clustering (invariant <see cref="Invariant"/>), applying <see cref="PostgresClusteringSchema"/>
    /// first, so the client may start before any silo has.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="connectionString">An Npgsql connection string of the silos' database; its role must be allowed to create tables.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IClientBuilder UsePostgresClustering(this IClientBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        builder.UseAdoNetClustering((AdoNetClusteringClientOptions options) => Configure(options, connectionString));

        // Orleans' provider stays the one that reads; ours wraps it to apply the schema first.
        builder.Services.TryAddSingleton<AdoNetGatewayListProvider>();
        builder.Services.RemoveAll<IGatewayListProvider>();
        builder.Services.AddSingleton<IGatewayListProvider, PostgresSchemaGatewayListProvider>();
        return builder;
    }

    private static void Configure(AdoNetClusteringSiloOptions options, string connectionString)
    {
        options.Invariant = Invariant;
        options.ConnectionString = connectionString;
    }

    private static void Configure(AdoNetClusteringClientOptions options, string connectionString)
    {
        options.Invariant = Invariant;
        options.ConnectionString = connectionString;
    }
}
