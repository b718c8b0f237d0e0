using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Metadata;

namespace OrleansReplication.Client;

/// <summary>
/// Fails fast a call to a replicated user grain (<c>[ReplicatedState]</c>) whose silo died under it.
/// The Orleans client does not fail calls it sent to a silo it lost: they wait for the response
/// timeout (30 s by default) while the grain already serves again on the promoted standby. So a
/// call unanswered for <see cref="StalledAttempts.ProbeAfter"/> is watched: once the client lost a
/// gateway connection after sending it or shortly before (<see cref="ConnectionLosses"/>), or the
/// call is older than <see cref="SuspectAfter"/>, and the grain's partition failed over after it
/// was sent (a silo took it from one that is gone; a graceful handoff does not count: the silo
/// that ran the call lives and answers or forwards it), nothing can answer it any more, and
/// it throws <see cref="SiloUnavailableException"/>, as Orleans does for a silo's own calls to a dead
/// silo. As there, the call may or may not have been applied; calling again is the caller's choice.
/// </summary>
internal sealed class ReplicatedGrainCallWatch(IServiceProvider services, ConnectionLosses losses) : IOutgoingGrainCallFilter
{
    // A call sent shortly after the client lost a silo can still be lost with it: a live gateway
    // whose grain directory still named the dead silo forwarded it there. So a loss this long
    // before the call counts too (a failover settles well within it).
    private static readonly long LossWindowTicks = (long)(TimeSpan.FromSeconds(10).TotalSeconds * Stopwatch.Frequency);

    // With no loss seen (the client had no connection to the dead silo; a live one forwarded the
    // call there), a call this old whose partition failed over since is taken for lost too.
    private static readonly TimeSpan SuspectAfter = TimeSpan.FromSeconds(2);

    // How long one question to the partition may take (it runs beside the call, not instead of it).
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<GrainType, bool> _replicated = new();

    // Every other call passes straight through: no state machine on the client's hot path.
    public Task Invoke(IOutgoingGrainCallContext context) =>
        IsReplicatedUserGrain(context.TargetId.Type) ? WatchAsync(context) : context.Invoke();

    private async Task WatchAsync(IOutgoingGrainCallContext context)
    {
        var sent = Stopwatch.GetTimestamp();
        var call = context.Invoke();
        var wait = StalledAttempts.ProbeAfter;
        while (true)
        {
            try
            {
                await call.WaitAsync(wait);
                return;
            }
            catch (TimeoutException)
            {
                // Answered just as the wait ran out (or the call's own timeout): the call's outcome
                // stands, never the wait's. Seen under load, where calls end near ProbeAfter.
                if (call.IsCompleted)
                {
                    await call;
                    return;
                }

                // Unanswered: is it lost?
            }

            wait = StalledAttempts.ProbeInterval;
            if (!losses.Since(sent - LossWindowTicks) && Stopwatch.GetElapsedTime(sent) < SuspectAfter)
            {
                continue;
            }

            // The question runs beside the call (a loaded silo may take longer than a round to answer it).
            var probe = StartedServingAfterAsync(context.TargetId, sent);
            await Task.WhenAny(call, probe);
            if (!call.IsCompleted && await probe)
            {
                _ = call.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                throw new SiloUnavailableException(
                    $"The silo running this call to {context.TargetId} ({context.InterfaceMethod?.Name}) died: {Stopwatch.GetElapsedTime(sent).TotalMilliseconds:0} ms after it was sent, the grain's partition failed over to another silo, so nothing can answer it any more. It may or may not have been applied; the grain serves again on the new primary.");
            }

            if (call.IsCompleted)
            {
                await call;
                return;
            }
        }
    }

    // Whether the grain's partition failed over after the call was sent (the silo running it is gone).
    private async Task<bool> StartedServingAfterAsync(GrainId grain, long sent)
    {
        try
        {
            // The client's own cached partition count (the replicators' context of this client).
            var client = services.GetRequiredService<IClusterClient>();
            var context = GrainFactoryReplicationExtensions.ContextOf(client, services.GetRequiredService<IOptions<ReplicationClientOptions>>().Value);
            var count = await context.GetPartitionCountAsync(CancellationToken.None).WaitAsync(ProbeTimeout);
            var asked = Stopwatch.GetTimestamp();
            var served = await client.GetGrain<IPartitionGrain>(PartitionHasher.GetGrainPartition(grain.ToString(), count)).GetServingForAsync().WaitAsync(ProbeTimeout);
            return served < Stopwatch.GetElapsedTime(sent, asked);
        }
        catch (Exception ex) when (ex is TimeoutException or ReplicationException or OrleansException)
        {
            return false; // not serving yet, or not reachable: ask again at the next round
        }
    }

    // Placed by partition, and not one of the replication's own grains (their calls retry by themselves).
    // Answered from the cache on every call after a type's first: no service lookup on the hot path.
    // A type the client's cluster manifest does not know yet is not cached (a newer silo may bring it).
    private bool IsReplicatedUserGrain(GrainType type)
    {
        if (_replicated.TryGetValue(type, out var replicated))
        {
            return replicated;
        }

        if (!services.GetRequiredService<GrainPropertiesResolver>().TryGetGrainProperties(type, out var properties))
        {
            return false;
        }

        replicated = properties.Properties.TryGetValue(WellKnownGrainTypeProperties.PlacementStrategy, out var strategy)
            && strategy == ReplicationGrainTypes.PartitionPlacement
            && ReplicationGrainTypes.IsUserGrain(type.ToString());
        return _replicated.GetOrAdd(type, replicated);
    }
}
