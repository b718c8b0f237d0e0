using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.AntiEntropy;

/// <summary>
/// Paces anti-entropy on this silo: one partition at a time, so a pass over every partition takes
/// <see cref="AntiEntropyOptions.CheckInterval"/> (replica checks) and
/// <see cref="AntiEntropyOptions.StoreCheckInterval"/> (store checks), whatever the partition
/// count. Only the partitions this silo leads are compared; the others are their primaries' work.
/// </summary>
internal sealed partial class AntiEntropyScheduler(PartitionManager partitions, IOptions<ReplicationOptions> options, TimeProvider time, ILogger<AntiEntropyScheduler> logger) : BackgroundService
{
    private readonly AntiEntropyOptions _options = options.Value.AntiEntropy;
    private readonly ILogger _logger = logger;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Clumps == 0)
        {
            return Task.CompletedTask;
        }

        return Task.WhenAll(
            PaceAsync(_options.CheckInterval, static p => Task.FromResult(p.RequestAntiEntropyCheck()), stoppingToken),
            PaceAsync(_options.StoreCheckInterval, async p => await p.CheckStoreAsync(stoppingToken).ConfigureAwait(false) is not null, stoppingToken));
    }

    private async Task PaceAsync(TimeSpan interval, Func<Partition, Task<bool>> check, CancellationToken stoppingToken)
    {
        if (interval == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var next = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var count = partitions.PartitionCount;
                await Task.Delay(count == 0 ? interval : interval / count, time, stoppingToken).ConfigureAwait(false);
                if (count == 0 || !partitions.IsReady || !partitions.FollowsMap)
                {
                    continue;
                }

                var id = next++ % count;
                if (!partitions.Leads(id))
                {
                    continue;
                }

                try
                {
                    await check(partitions.Partitions[id]).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The store is down, or the partition moved: the next pass tries again.
                    LogCheckFailed(id, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(EventId = ReplicationLogEvents.AntiEntropyCheckFailed, Level = LogLevel.Debug, Message = "Partition {Partition}: an anti-entropy comparison failed; the next pass compares it again.")]
    private partial void LogCheckFailed(int partition, Exception exception);
}
