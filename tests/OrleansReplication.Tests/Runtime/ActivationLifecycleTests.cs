using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Runtime;

/// <summary>Activation: created on first call, activated once before calls; failed activations fail their calls and are retried.</summary>
public sealed class ActivationLifecycleTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly RuntimeHarness _harness = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Activation_FirstCalls_ActivateOnceBeforeAnyCallRuns()
    {
        var grain = _harness.Runtime.GetGrain<ILifecycleGrain>("first");
        Assert.Equal(0, _harness.Runtime.ActivationCount);

        // All three arrive while OnActivateAsync is still awaiting.
        var instances = await Wait.ForAsync(Task.WhenAll(grain.CallAsync(), grain.CallAsync(), grain.CallAsync()), Deadline, "three calls to a new grain");

        Assert.Equal([1, 1, 1], instances);
        Assert.Equal(["activate-start", "activate-end", "call", "call", "call"], _harness.Probe.Events);
        Assert.Equal(1, _harness.Runtime.ActivationCount);
        Assert.Equal(1, _harness.Probe.Activations);
    }

    [Fact]
    public async Task Activation_DifferentKeys_GetSeparateActivations()
    {
        var one = _harness.Runtime.GetGrain<ILifecycleGrain>("one");
        var two = _harness.Runtime.GetGrain<ILifecycleGrain>("two");

        var instances = await Wait.ForAsync(Task.WhenAll(one.CallAsync(), two.CallAsync(), one.CallAsync()), Deadline, "calls to two grains");

        Assert.Equal(2, _harness.Runtime.ActivationCount);
        Assert.Equal(2, _harness.Probe.Activations);
        Assert.Equal(instances[0], instances[2]);
        Assert.NotEqual(instances[0], instances[1]);
    }

    [Fact]
    public async Task Activation_OnActivateThrows_QueuedCallsFailWithThatExceptionAndNextCallRetries()
    {
        _harness.Probe.FailActivations = 1;
        var grain = _harness.Runtime.GetGrain<IFlakyActivationGrain>("flaky");

        // The activation waits on the gate, so all three calls are queued when it fails.
        var queued = new[] { grain.CallAsync(), grain.CallAsync(), grain.CallAsync() };
        Assert.DoesNotContain(queued, t => t.IsCompleted);
        _harness.Probe.Gate("activation").TrySetResult();

        var errors = new List<GrainTestException>();
        foreach (var call in queued)
        {
            errors.Add(await Assert.ThrowsAsync<GrainTestException>(() => Wait.ForAsync(call, Deadline, "a call queued behind a failing activation")));
        }

        Assert.Equal("activation failed on purpose", errors[0].Message);
        Assert.All(errors, e => Assert.Same(errors[0], e));

        Assert.Equal(0, _harness.Probe.Activations);

        var instance = await Wait.ForAsync(grain.CallAsync(), Deadline, "a call after the failed activation");
        Assert.Equal(1, instance);
        Assert.Equal(1, _harness.Probe.Activations);
        Assert.Equal(1, _harness.Runtime.ActivationCount);
    }
}
