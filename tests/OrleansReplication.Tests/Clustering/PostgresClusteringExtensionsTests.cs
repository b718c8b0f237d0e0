using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService;
using OrleansReplication.Clustering;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Clustering;

/// <summary>What UsePostgresClustering registers, run against a fresh database that has no schema yet.</summary>
public sealed class PostgresClusteringExtensionsTests(PostgresServerFixture server) : IClassFixture<PostgresServerFixture>
{
    [Fact]
    public async Task UsePostgresClustering_Silo_AppliesTheSchemaInAStageBeforeMembershipStarts()
    {
        var connectionString = await server.CreateDatabaseAsync();
        var services = NewServices();
        new FakeSiloBuilder(services).UsePostgresClustering(connectionString);
        await using var provider = services.BuildServiceProvider();
        Assert.All(provider.GetServices<IConfigurationValidator>(), validator => validator.ValidateConfiguration());
        var lifecycle = new RecordingLifecycle();
        foreach (var participant in provider.GetServices<ILifecycleParticipant<ISiloLifecycle>>())
        {
            participant.Participate(lifecycle);
        }

        // Orleans' MembershipTableManager initializes the table (reading OrleansQuery) at RuntimeGrainServices.
        var (stage, observer) = Assert.Single(lifecycle.Subscriptions);
        Assert.Equal(ServiceLifecycleStage.RuntimeInitialize, stage);
        Assert.True(stage < ServiceLifecycleStage.RuntimeGrainServices);
        Assert.False(await HasQueryTableAsync(connectionString));

        await observer.OnStart(CancellationToken.None);

        var table = Assert.IsType<AdoNetClusteringTable>(provider.GetRequiredService<IMembershipTable>());
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        Assert.Equal(0, (await table.ReadAllAsync()).Version.Version);
    }

    [Fact]
    public async Task UsePostgresClustering_Client_AppliesTheSchemaBeforeReadingGateways()
    {
        var connectionString = await server.CreateDatabaseAsync();
        var services = NewServices();
        new FakeClientBuilder(services).UsePostgresClustering(connectionString);
        await using var provider = services.BuildServiceProvider();
        Assert.All(provider.GetServices<IConfigurationValidator>(), validator => validator.ValidateConfiguration());
        var gateways = provider.GetRequiredService<IGatewayListProvider>();

        await gateways.InitializeGatewayListProviderAsync();

        Assert.True(await HasQueryTableAsync(connectionString));
        Assert.Empty(await gateways.GetGatewaysAsync());
    }

    private static ServiceCollection NewServices()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.Configure<ClusterOptions>(options =>
        {
            options.ClusterId = "cluster-a";
            options.ServiceId = "service";
        });
        return services;
    }

    private static async Task<bool> HasQueryTableAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT to_regclass('orleansquery') IS NOT NULL", connection);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private sealed class FakeSiloBuilder(IServiceCollection services) : ISiloBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IConfiguration Configuration { get; } = new ConfigurationBuilder().Build();
    }

    private sealed class FakeClientBuilder(IServiceCollection services) : IClientBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IConfiguration Configuration { get; } = new ConfigurationBuilder().Build();
    }

    // Records what subscribes where, as the silo's lifecycle would before running the stages in order.
    private sealed class RecordingLifecycle : ISiloLifecycle
    {
        public List<(int Stage, ILifecycleObserver Observer)> Subscriptions { get; } = [];

        public int HighestCompletedStage => ServiceLifecycleStage.First;

        public int LowestStoppedStage => ServiceLifecycleStage.Last;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            Subscriptions.Add((stage, observer));
            return new CancellationTokenRegistration();
        }
    }
}
