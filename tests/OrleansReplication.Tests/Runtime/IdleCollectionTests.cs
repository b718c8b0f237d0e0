using OrleansReplication.Grains.Runtime;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Runtime;

/// <summary>Deactivation: idle activations are collected only after the idle timeout, busy ones never; grains can ask to leave.</summary>
public sealed class IdleCollectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly RuntimeHarness _harness = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task CollectIdle_AfterIdleTimeout_DeactivatesAndNextCallCreatesFreshActivation()
    {
        var grain = _harness.Runtime.GetGrain<ILifecycleGrain>("idle");
        Assert.Equal(1, await Wait.ForAsync(grain.CallAsync(), Deadline, "the first call"));

        _harness.Time.Advance(RuntimeHarness.IdleTimeout - TimeSpan.FromSeconds(1));
        Assert.Equal(0, _harness.Runtime.CollectIdle());
        Assert.Equal(1, _harness.Runtime.ActivationCount);
        Assert.Equal(0, _harness.Probe.Deactivations);

        // The caller may see its result a moment before the drain task marks the mailbox idle,
        // so collection is retried until it takes (a busy activation is skipped, never closed).
        _harness.Time.Advance(TimeSpan.FromSeconds(2));
        await Wait.UntilAsync(() => _harness.Runtime.CollectIdle() == 1, Deadline, "CollectIdle to close the idle activation");
        await Wait.UntilAsync(() => _harness.Runtime.ActivationCount == 0, Deadline, "the idle activation to leave the directory");
        Assert.Equal(1, _harness.Probe.Deactivations);
        Assert.Equal([DeactivationReason.Idle], _harness.Probe.DeactivationReasons);

        Assert.Equal(2, await Wait.ForAsync(grain.CallAsync(), Deadline, "a call after collection"));
        Assert.Equal(2, _harness.Probe.Activations);
        Assert.Equal(1, _harness.Runtime.ActivationCount);
    }

    [Fact]
    public async Task CollectIdle_CallWithinTimeout_RestartsIdleClock()
    {
        var grain = _harness.Runtime.GetGrain<ILifecycleGrain>("busy-ish");
        await Wait.ForAsync(grain.CallAsync(), Deadline, "the first call");

        _harness.Time.Advance(TimeSpan.FromMinutes(9));
        await Wait.ForAsync(grain.CallAsync(), Deadline, "the second call");
        _harness.Time.Advance(TimeSpan.FromMinutes(9));

        Assert.Equal(0, _harness.Runtime.CollectIdle());
        Assert.Equal(1, _harness.Runtime.ActivationCount);
        Assert.Equal(0, _harness.Probe.Deactivations);
    }

    [Fact]
    public async Task CollectIdle_CallStillRunningPastTimeout_IsNotDeactivated()
    {
        var grain = _harness.Runtime.GetGrain<ILifecycleGrain>("long-call");
        var blocked = grain.BlockAsync("hold");
        await Wait.UntilAsync(() => _harness.Probe.Activations == 1, Deadline, "the grain to activate");

        _harness.Time.Advance(RuntimeHarness.IdleTimeout + TimeSpan.FromMinutes(1));
        Assert.Equal(0, _harness.Runtime.CollectIdle());
        Assert.Equal(0, _harness.Probe.Deactivations);

        _harness.Probe.Gate("hold").TrySetResult();
        await Wait.ForAsync(blocked, Deadline, "the long call to finish");
        await Wait.UntilAsync(() => _harness.Runtime.CollectIdle() == 1, Deadline, "CollectIdle to close the activation once its call ended");
        await Wait.UntilAsync(() => _harness.Runtime.ActivationCount == 0, Deadline, "the activation to be collected once its call ended");
    }

    [Fact]
    public async Task DeactivateOnIdle_CalledByGrain_DeactivatesAfterTurnAndNextCallCreatesFreshActivation()
    {
        var grain = _harness.Runtime.GetGrain<ILifecycleGrain>("leaver");
        Assert.Equal(1, await Wait.ForAsync(grain.CallAsync(), Deadline, "the first call"));

        await Wait.ForAsync(grain.LeaveAsync(), Deadline, "the call that asks to deactivate");
        await Wait.UntilAsync(() => _harness.Runtime.ActivationCount == 0, Deadline, "the activation to deactivate on request");
        Assert.Equal([DeactivationReason.Requested], _harness.Probe.DeactivationReasons);

        Assert.Equal(2, await Wait.ForAsync(grain.CallAsync(), Deadline, "a call after deactivation"));
        Assert.Equal(2, _harness.Probe.Activations);
    }
}
