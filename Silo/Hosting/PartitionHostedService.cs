using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Hosting;

/// <summary>
/// Opens the store and loads the partitions before the listeners open (hosted services start
/// before Kestrel), and stops them after the listeners close, letting queued writes finish.
/// </summary>
internal sealed partial class PartitionHostedService(
    IStateStore store,
    PartitionManager partitions,
    SiloIdentity identity,
    IOptions<SiloOptions> options,
    ILogger<PartitionHostedService> logger) : IHostedService
{
    private readonly ILogger _logger = logger;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await partitions.StartAsync(o.PartitionCount, cancellationToken).ConfigureAwait(false);
        identity.PartitionCount = partitions.PartitionCount;
        LogStarted(identity.SiloId, store.ProviderName, identity.HttpEndpoint, identity.GatewayEndpoint, identity.SiloEndpoint, partitions.PartitionCount);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        LogStopping(identity.SiloId);
        await partitions.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.SiloStarted, Level = LogLevel.Information, Message = "Silo {SiloId} serving with the {Storage} store: HTTP {HttpEndpoint}, gateway {GatewayEndpoint}, silo {SiloEndpoint}, {Partitions} partitions.")]
    private partial void LogStarted(string siloId, string storage, string httpEndpoint, string gatewayEndpoint, string siloEndpoint, int partitions);

    [LoggerMessage(EventId = LogEvents.SiloStopping, Level = LogLevel.Information, Message = "Silo {SiloId} stopping: finishing queued writes, then closing the store.")]
    private partial void LogStopping(string siloId);
}
