using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Http;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// Makes a silo of Orleans' <see cref="Orleans.TestingHost.TestCluster"/> one of ours, as the silo
/// executable composes it (<see cref="SiloApplication"/>): Orleans configured from the <c>Silo</c>
/// settings, <c>AddStateReplication()</c>, and the HTTP API on Kestrel in the same host.
/// </summary>
/// <remarks>
/// The test cluster picks each silo's name and ports and the cluster's ids, and hands them to the
/// silo as Orleans settings (<c>Orleans:Name</c>, <c>Orleans:Endpoints:SiloPort</c>...). Our silo
/// reads its own (<c>Silo:SiloId</c>, <c>Silo:SiloPort</c>...), which win over Orleans' (they are
/// post-configured) and which it publishes to its peers, so they are copied over, not left to
/// their defaults. The HTTP port is ours alone: a free one. The rest of the <c>Silo</c> section
/// (data directory, partition count, membership timings) is the cluster's, from its properties.
/// </remarks>
public sealed class ReplicationSiloConfigurator : IHostConfigurator
{
    /// <summary>
    /// The grain storage every silo has (Orleans' ADO.NET storage on the cluster's SQLite or PostgreSQL),
    /// for <c>[ReplicatedState(storageName: ...)]</c> tests; its reads are counted (<see cref="ReadCountingGrainStorage"/>).
    /// </summary>
    public const string GrainStorage = "store";

    /// <inheritdoc />
    public void Configure(IHostBuilder hostBuilder)
    {
        hostBuilder.ConfigureAppConfiguration((context, configuration) => configuration.AddInMemoryCollection(SiloSettings(context.Configuration)));
        hostBuilder.ConfigureServices(ReadCountingStateStore.AddTo);
        hostBuilder.ConfigureServices(services =>
        {
            // Each silo's errors, for assertion messages (ReplicationCluster.LoggedErrors).
            var errors = new RecordingLoggerProvider(Microsoft.Extensions.Logging.LogLevel.Error);
            services.AddSingleton(errors);
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(errors);
        });
        hostBuilder.UseOrleans((context, silo) =>
        {
            silo.ConfigureFromSiloOptions(context.Configuration).AddStateReplication();
            ReadCountingGrainStorage.Wrap(silo.Services, GrainStorage);
        });
        hostBuilder.ConfigureWebHost(web => web
            .UseKestrel()
            .ListenOnSiloHttpPort()
            .ConfigureServices(services => services.AddHttpApi())
            .Configure(app => app.UseHttpApi()));
    }

    private static Dictionary<string, string?> SiloSettings(IConfiguration picked) => new()
    {
        ["Silo:SiloId"] = picked["Orleans:Name"],
        ["Silo:SiloPort"] = picked["Orleans:Endpoints:SiloPort"],
        ["Silo:GatewayPort"] = picked["Orleans:Endpoints:GatewayPort"],
        ["Silo:HttpPort"] = FreePorts.Take(1)[0].ToString(CultureInfo.InvariantCulture),
        ["Silo:ClusterId"] = picked["Orleans:ClusterId"],
        ["Silo:ServiceId"] = picked["Orleans:ServiceId"],
    };
}
