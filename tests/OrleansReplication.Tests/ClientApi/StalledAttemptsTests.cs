using System.Diagnostics;

namespace OrleansReplication.Tests.ClientApi;

/// <summary>
/// An unanswered attempt is abandoned when the partition's grain that serves now is younger than
/// the attempt (the silo that ran it is gone), and waited for when the grain is older (it is only slow).
/// </summary>
public sealed class StalledAttemptsTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ServedByAGrainYoungerThanTheAttempt_AbandonedSoonNotAtItsTimeout()
    {
        var never = new TaskCompletionSource<int>();
        var started = Stopwatch.GetTimestamp();

        await Assert.ThrowsAsync<AttemptLostException>(() => StalledAttempts.WaitAsync(never.Task, () => Task.FromResult(TimeSpan.FromMilliseconds(5)), null, Limit, default));

        var took = Stopwatch.GetElapsedTime(started);
        Assert.True(took < TimeSpan.FromSeconds(1), $"Abandoned after {took.TotalMilliseconds:0} ms.");
        // The wait's timer and the stopwatch are different clocks: a timer may end a fraction of a millisecond "early".
        Assert.True(took >= StalledAttempts.ProbeAfter - TimeSpan.FromMilliseconds(5), $"Abandoned after {took.TotalMilliseconds:0.0} ms, before the partition was due to be asked.");
    }

    [Fact]
    public async Task ServedByAGrainOlderThanTheAttempt_WaitedForUntilItAnswers()
    {
        // The attempt answers at the third question: counted, not timed, so a loaded machine cannot skew it.
        var slow = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var asked = 0;
        var started = Stopwatch.GetTimestamp();

        var result = await StalledAttempts.WaitAsync(slow.Task, () => { if (++asked == 3) { slow.SetResult(42); } return Task.FromResult(TimeSpan.FromHours(1)); }, null, Limit, default);

        Assert.Equal(42, result);
        Assert.Equal(3, asked);
        // Asked every ProbeInterval from ProbeAfter on, not in a busy loop.
        Assert.True(Stopwatch.GetElapsedTime(started) >= StalledAttempts.ProbeAfter + (2 * StalledAttempts.ProbeInterval) - TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public async Task PartitionNotAnswering_WaitsUntilTheLimitThenTimesOut()
    {
        var never = new TaskCompletionSource<int>();
        var unanswered = new TaskCompletionSource<TimeSpan>();
        var started = Stopwatch.GetTimestamp();

        var error = await Assert.ThrowsAsync<TimeoutException>(() => StalledAttempts.WaitAsync(never.Task, () => unanswered.Task, null, TimeSpan.FromMilliseconds(700), default));

        Assert.IsNotType<AttemptLostException>(error);
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromMilliseconds(690));
    }

    [Fact]
    public async Task QuestionFails_SaysNothing_AttemptStillWaitedFor()
    {
        var slow = Task.Delay(TimeSpan.FromMilliseconds(500)).ContinueWith(_ => 7, TaskScheduler.Default);

        var result = await StalledAttempts.WaitAsync(slow, () => Task.FromException<TimeSpan>(new PartitionMovedException(1, "moving")), null, Limit, default);

        Assert.Equal(7, result);
    }

    [Fact]
    public async Task LostAttempt_RetriedAtOnceWithoutBackoff()
    {
        // A 2 s minimum backoff would show if the lost attempt were retried after it.
        var calls = new PartitionedCalls(null!, _ => Task.FromResult(1), new RetryPolicy(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)));
        var attempts = 0;
        var started = Stopwatch.GetTimestamp();

        var result = await calls.RetryAsync(
            () => ++attempts == 1 ? new TaskCompletionSource<int>().Task : Task.FromResult(9),
            default,
            () => Task.FromResult(TimeSpan.Zero));

        Assert.Equal(9, result);
        Assert.Equal(2, attempts);
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public async Task ConnectionLostAfterTheAttemptWasSent_AbandonedThoughThePartitionIsOld()
    {
        // The gateway that forwarded the attempt died: the partition is fine, the answer's way back is not.
        var never = new TaskCompletionSource<int>();
        var losses = new ConnectionLosses();
        var waiting = StalledAttempts.WaitAsync(never.Task, () => Task.FromResult(TimeSpan.FromHours(1)), losses, Limit, default);
        await Task.Delay(TimeSpan.FromMilliseconds(50));
        losses.Report();
        var reported = Stopwatch.GetTimestamp();

        await Assert.ThrowsAsync<AttemptLostException>(() => waiting);

        Assert.True(Stopwatch.GetElapsedTime(reported) < TimeSpan.FromMilliseconds(600), "Abandoned long after the connection loss.");
    }

    [Fact]
    public async Task ConnectionLostBeforeTheAttemptWasSent_AttemptWaitedFor()
    {
        var losses = new ConnectionLosses();
        losses.Report();
        var slow = Task.Delay(TimeSpan.FromMilliseconds(500)).ContinueWith(_ => 3, TaskScheduler.Default);

        Assert.Equal(3, await StalledAttempts.WaitAsync(slow, servingFor: null, losses, Limit, default));
    }
}