using System.Diagnostics;

namespace OrleansReplication.Tests.ClientApi;

/// <summary>
/// A call whose partition is moving (the primary crashed or handed off) is retried with a growing
/// backoff for other failures, but at most <see cref="PartitionedCalls.FailoverRetryDelay"/> apart
/// while the failure says the partition is moving: it goes through soon after the new primary
/// serves, not when a backoff grown meanwhile runs out. (An in-process silo's kill hands its
/// partitions over within milliseconds, so the slow failover is scripted here.)
/// </summary>
public sealed class PartitionedCallsRetryTests
{
    private static readonly RetryPolicy Policy = new(TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PartitionMovingForSeconds_RetriedSoonAfterItServesNotAfterItsBackoff(bool siloLost)
    {
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), Policy);
        var started = Stopwatch.GetTimestamp();
        var servesAt = TimeSpan.FromSeconds(3.2);
        var attempts = 0;

        var result = await calls.RetryAsync(
            () =>
            {
                attempts++;
                return Stopwatch.GetElapsedTime(started) >= servesAt
                    ? Task.FromResult(42)
                    : Task.FromException<int>(siloLost ? new Orleans.Runtime.SiloUnavailableException("The primary's silo is gone.") : new PartitionMovedException(3, "Partition 3 is moving."));
            },
            default);
        var doneAt = Stopwatch.GetElapsedTime(started);

        // Doubling from 100 ms would have tried at 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s: done 3.1 s late.
        // Retrying every 50 ms is done at once; the bound leaves room for a thread pool starved
        // while the suite starts its clusters (a 50 ms delay once took a second there).
        Assert.Equal(42, result);
        Assert.True(doneAt - servesAt < TimeSpan.FromSeconds(2), $"The call went through {(doneAt - servesAt).TotalMilliseconds:0} ms after the partition served again: it waited out its backoff.");
        Assert.True(attempts < 100, $"{attempts} attempts in {doneAt.TotalSeconds:0.0} s: the retries hammer the cluster.");
    }

    [Fact]
    public async Task OtherRetryableFailure_BacksOffExponentially_ThenTimesOutWithTypedError()
    {
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), new RetryPolicy(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30)));
        var attempts = new List<long>();

        var error = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => calls.RetryAsync<int>(
            () =>
            {
                attempts.Add(Stopwatch.GetTimestamp());
                return Task.FromException<int>(new ReplicaUnavailableException("The silo is loading.", TimeSpan.FromSeconds(1)));
            },
            default));

        // At 0, 0.1, 0.3, 0.7 s, then at the end of the 1 s budget: never many more, and each wait
        // that the budget does not cut short at least double the one before. A slow machine only
        // makes the waits longer, so fewer attempts fit.
        Assert.InRange(attempts.Count, 2, 6);
        for (var i = 1; i < attempts.Count; i++)
        {
            var due = TimeSpan.FromMilliseconds(100 << (i - 1));
            if (Stopwatch.GetElapsedTime(attempts[0], attempts[i - 1]) + due < TimeSpan.FromSeconds(1))
            {
                var waited = Stopwatch.GetElapsedTime(attempts[i - 1], attempts[i]);
                Assert.True(waited >= due - TimeSpan.FromMilliseconds(20), $"Attempt {i + 1} came {waited.TotalMilliseconds:0} ms after the one before, not {due.TotalMilliseconds:0} ms.");
            }
        }

        Assert.Contains("RequestTimeout", error.Message, StringComparison.Ordinal);
        Assert.IsType<ReplicaUnavailableException>(error.InnerException);
    }

    [Fact]
    public async Task NonRetryableFailure_ThrownAtOnce()
    {
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), Policy);
        var attempts = 0;

        await Assert.ThrowsAsync<VersionConflictException>(() => calls.RetryAsync<int>(
            () =>
            {
                attempts++;
                return Task.FromException<int>(new VersionConflictException([]));
            },
            default));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task CancelledWhileThePartitionMoves_ThrowsCancellation_NotTheRetriedFailure()
    {
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), Policy);
        using var cancel = new CancellationTokenSource();

        var error = await Assert.ThrowsAsync<OperationCanceledException>(() => calls.RetryAsync<int>(
            () =>
            {
                // The caller gives up just as its attempt fails with a retryable error.
                cancel.Cancel();
                return Task.FromException<int>(new PartitionMovedException(3, "Partition 3 is moving.", TimeSpan.FromMilliseconds(100)));
            },
            cancel.Token));

        Assert.Equal(cancel.Token, error.CancellationToken);
        Assert.IsType<PartitionMovedException>(error.InnerException);
    }

    [Fact]
    public async Task OrleansDirectoryNotStable_WhileMembershipChanges_Retried()
    {
        // What Orleans' grain directory throws on the caller's silo while a silo leaves (seen as an
        // HTTP 500 during a rolling restart on CI): the call never reached the grain, so it is retried.
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), Policy);
        var attempts = 0;

        var result = await calls.RetryAsync(
            () => ++attempts < 3
                ? Task.FromException<int>(new Orleans.Runtime.OrleansException("Current directory at S127.0.0.1:11111:1 is not stable to perform the lookup for grainId replication.partition/3 (it maps to S127.0.0.1:11112:2, which is not a valid silo). Retry later."))
                : Task.FromResult(7),
            default);

        Assert.Equal(7, result);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task OrleansExceptionSubclassNotKnownTransient_ThrownAtOnce()
    {
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), Policy);
        var attempts = 0;

        await Assert.ThrowsAsync<Orleans.Runtime.GrainExtensionNotInstalledException>(() => calls.RetryAsync<int>(
            () =>
            {
                attempts++;
                return Task.FromException<int>(new Orleans.Runtime.GrainExtensionNotInstalledException("No such extension."));
            },
            default));

        Assert.Equal(1, attempts);
    }
}
