using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Runtime;

/// <summary>Periodically deactivates idle activations, and deactivates them all when the silo stops.</summary>
internal sealed class ActivationCollector(GrainRuntime runtime, TimeProvider time, IOptions<GrainRuntimeOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CollectionInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                runtime.CollectIdle();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await runtime.DeactivateAllAsync(cancellationToken).ConfigureAwait(false);
    }
}
