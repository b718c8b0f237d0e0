using System.Diagnostics;

namespace OrleansReplication;

/// <summary>
/// Tells a slow call from a lost one. An Orleans client's call is forwarded by a gateway silo, and
/// when the silo running it dies, nothing answers it: Orleans fails it only at its response
/// timeout. So while an attempt is unanswered for longer than a write takes, the partition's
/// grain is asked how long its silo has led the partition since taking it from a silo that is
/// gone. A takeover after the attempt was sent means the attempt's silo was declared dead and the
/// partition failed over, so the attempt is abandoned and sent again at once (writes carry their
/// idempotency id, so one applied meanwhile is answered from its record, not applied twice).
/// Otherwise (an older takeover, or a graceful handoff from a silo that lives) the attempt is
/// slow, and is waited for.
/// An attempt unanswered since before the caller lost a connection (<see cref="ConnectionLosses"/>:
/// the gateway silo that forwarded it died) is sent again too.
/// </summary>
internal static class StalledAttempts
{
    /// <summary>How long an attempt runs before its partition is first asked (far beyond a write's usual latency).</summary>
    public static readonly TimeSpan ProbeAfter = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How often the partition is asked again while the attempt is unanswered (a question to a dead
    /// silo is not answered either, and one that reaches the new primary before it serves is refused):
    /// the lost attempt is found within this of the partition serving again.
    /// </summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits for <paramref name="attempt"/> up to <paramref name="limit"/>, probing its partition once it is slow.</summary>
    /// <param name="attempt">The attempt, already sent.</param>
    /// <param name="servingFor">Asks the partition's grain how long its silo has led it since a failover (<see cref="IPartitionGrain.GetServingForAsync"/>), or <see langword="null"/> to only wait.</param>
    /// <param name="losses">The caller's lost connections, or <see langword="null"/>.</param>
    /// <param name="limit">The attempt's timeout.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <exception cref="AttemptLostException">The partition failed over after the attempt was sent, or a connection was lost since.</exception>
    /// <exception cref="TimeoutException">The attempt was not answered within <paramref name="limit"/>.</exception>
    public static Task<T> WaitAsync<T>(Task<T> attempt, Func<Task<TimeSpan>>? servingFor, ConnectionLosses? losses, TimeSpan limit, CancellationToken cancellationToken)
    {
        // Answered already, or nothing to watch: no timers, no allocations beyond the timeout's.
        return attempt.IsCompleted || (servingFor is null && losses is null) || limit <= ProbeAfter
            ? attempt.WaitAsync(limit > TimeSpan.Zero ? limit : TimeSpan.Zero, cancellationToken)
            : WatchAsync(attempt, servingFor, losses, limit, cancellationToken);
    }

    private static async Task<T> WatchAsync<T>(Task<T> attempt, Func<Task<TimeSpan>>? servingFor, ConnectionLosses? losses, TimeSpan limit, CancellationToken cancellationToken)
    {
        var sent = Stopwatch.GetTimestamp();
        try
        {
            return await attempt.WaitAsync(ProbeAfter, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Slow: probe below. Answered just as the wait ran out: the attempt's outcome stands, never the wait's.
            if (attempt.IsCompleted)
            {
                return await attempt.ConfigureAwait(false);
            }
        }

        while (true)
        {
            var left = limit - Stopwatch.GetElapsedTime(sent);
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"The call was not answered within {limit.TotalSeconds:0.#} s.");
            }

            if (losses?.Since(sent) == true)
            {
                throw new AttemptLostException($"A connection the call may have gone out on was lost {Stopwatch.GetElapsedTime(sent).TotalMilliseconds:0} ms after it was sent, and it is unanswered.");
            }

            var round = left < ProbeInterval ? left : ProbeInterval;
            var asked = Stopwatch.GetTimestamp();
            var probe = servingFor is null ? Unasked : Ask(servingFor);
            try
            {
                await Task.WhenAny(attempt, probe).WaitAsync(round, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Neither answered this round (a question to a dead silo is not answered either): ask again.
            }

            if (attempt.IsCompleted)
            {
                return await attempt.ConfigureAwait(false);
            }

            // The partition was taken over at least `served` before the question was asked (it was
            // answered later still): if that is after the attempt was sent, its silo is gone.
            if (probe.IsCompletedSuccessfully && probe.Result is { } served && served < Stopwatch.GetElapsedTime(sent, asked))
            {
                throw new AttemptLostException($"The partition failed over {served.TotalMilliseconds:0} ms ago, within the {Stopwatch.GetElapsedTime(sent).TotalMilliseconds:0} ms the call has waited: the silo that ran it is gone.");
            }

            var rest = round - Stopwatch.GetElapsedTime(asked);
            if (rest > TimeSpan.Zero)
            {
                try
                {
                    return await attempt.WaitAsync(rest, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Still slow, and no failover since it was sent: wait on (unless answered just as the wait ran out).
                    if (attempt.IsCompleted)
                    {
                        return await attempt.ConfigureAwait(false);
                    }
                }
            }
        }
    }

    private static readonly Task<TimeSpan?> Unasked = new TaskCompletionSource<TimeSpan?>().Task;

    // A failed or unanswered question says nothing (the partition may be between primaries): null.
    private static async Task<TimeSpan?> Ask(Func<Task<TimeSpan>> servingFor)
    {
        try
        {
            return await servingFor().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return null;
        }
    }
}

/// <summary>An attempt whose silo is gone: the partition is served by a grain activated after it was sent.</summary>
internal sealed class AttemptLostException(string message) : TimeoutException(message);
