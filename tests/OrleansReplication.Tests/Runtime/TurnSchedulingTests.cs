using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Runtime;

/// <summary>Turn-based scheduling: one call at a time per grain, in arrival order; different grains in parallel.</summary>
public sealed class TurnSchedulingTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly RuntimeHarness _harness = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Calls_ConcurrentCallsToOneGrain_RunOneAtATimeInArrivalOrder()
    {
        const int calls = 50;
        var grain = _harness.Runtime.GetGrain<ITurnGrain>("serial");

        var pending = Enumerable.Range(1, calls).Select(grain.RecordAsync).ToArray();
        var results = await Wait.ForAsync(Task.WhenAll(pending), Deadline, $"{calls} calls to one grain");

        Assert.Equal(Enumerable.Range(1, calls), results);
        Assert.Equal(Enumerable.Range(1, calls), _harness.Probe.Entered);
        Assert.Equal(1, _harness.Probe.MaxInside);
    }

    [Fact]
    public async Task Calls_TwoGrainsWaitingForEachOther_RunInParallel()
    {
        var a = _harness.Runtime.GetGrain<IMeetGrain>("a");
        var b = _harness.Runtime.GetGrain<IMeetGrain>("b");

        // Each call opens its own gate and waits for the other's: this deadlocks unless the two
        // grains' turns run at the same time.
        await Wait.ForAsync(Task.WhenAll(a.MeetAsync("b"), b.MeetAsync("a")), Deadline, "grains a and b to meet (they deadlock if different grains are serialized)");

        Assert.True(_harness.Probe.Gate("a").Task.IsCompletedSuccessfully);
        Assert.True(_harness.Probe.Gate("b").Task.IsCompletedSuccessfully);
    }
}
