using Microsoft.Extensions.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansReplication.Client;
using OrleansReplication.Clustering;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// The test cluster's client, as an application configures its Orleans client: the gateways from
/// the cluster's SQLite membership table (the file in <c>Silo:DataDir</c>), and <c>AddStateReplication()</c>.
/// </summary>
public sealed class ReplicationClientConfigurator : IClientBuilderConfigurator
{
    /// <summary>Every request's budget, retries included: generous, a loaded 2-core machine is slow to fail over.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    /// <inheritdoc />
    public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
    {
        var dataDir = configuration["Silo:DataDir"] ?? throw new InvalidOperationException("The test cluster's configuration has no Silo:DataDir.");
        clientBuilder
            .UseSqliteClustering(o => o.ConnectionString = StateStoreFactory.SqliteConnectionString(dataDir))
            .AddStateReplication(o => o.RequestTimeout = RequestTimeout);
    }
}
