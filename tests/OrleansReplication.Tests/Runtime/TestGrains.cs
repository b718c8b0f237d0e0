using System.Collections.Concurrent;
using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Tests.Runtime;

/// <summary>What the test grains report to the test: shared by every activation of one runtime (a DI singleton).</summary>
public sealed class GrainProbe
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private int _inside;
    private int _maxInside;

    /// <summary>Lifecycle and call events, in the order they happened.</summary>
    public ConcurrentQueue<string> Events { get; } = new();

    /// <summary>Call numbers in the order the grain started them.</summary>
    public ConcurrentQueue<int> Entered { get; } = new();

    /// <summary>The most calls that were ever inside one grain at once.</summary>
    public int MaxInside => Volatile.Read(ref _maxInside);

    /// <summary>How many activations ran OnActivateAsync to the end.</summary>
    public int Activations;

    /// <summary>How many activations ran OnDeactivateAsync.</summary>
    public int Deactivations;

    /// <summary>Reasons passed to OnDeactivateAsync.</summary>
    public ConcurrentQueue<DeactivationReason> DeactivationReasons { get; } = new();

    /// <summary>While positive, OnActivateAsync of <see cref="FlakyActivationGrain"/> throws (and counts down).</summary>
    public int FailActivations;

    /// <summary>A named gate: awaiting it waits until the test (or another grain) opens it.</summary>
    public TaskCompletionSource Gate(string name) => _gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Marks a call as entered and records how many calls are inside at once.</summary>
    public void Enter(int call)
    {
        Entered.Enqueue(call);
        var inside = Interlocked.Increment(ref _inside);
        int max;
        while (inside > (max = Volatile.Read(ref _maxInside)) && Interlocked.CompareExchange(ref _maxInside, inside, max) != max)
        {
        }
    }

    /// <summary>Marks a call as left.</summary>
    public void Exit() => Interlocked.Decrement(ref _inside);
}

/// <summary>Records overlapping calls.</summary>
public interface ITurnGrain : IGrainWithStringKey
{
    /// <summary>Enters, awaits a few times (so calls would overlap if not serialized), leaves.</summary>
    Task<int> RecordAsync(int call);
}

/// <summary>Two grains waiting for each other.</summary>
public interface IMeetGrain : IGrainWithStringKey
{
    /// <summary>Opens this grain's gate, then waits for <paramref name="other"/>'s.</summary>
    Task MeetAsync(string other);
}

/// <summary>Reports its lifecycle.</summary>
public interface ILifecycleGrain : IGrainWithStringKey
{
    /// <summary>Records a call; returns the activation's instance number.</summary>
    Task<int> CallAsync();

    /// <summary>Waits until the test opens the named gate.</summary>
    Task BlockAsync(string gate);

    /// <summary>Asks to be deactivated once this call ends.</summary>
    Task LeaveAsync();
}

/// <summary>A grain whose activation fails while <see cref="GrainProbe.FailActivations"/> is positive.</summary>
public interface IFlakyActivationGrain : IGrainWithStringKey
{
    /// <summary>Returns the activation's instance number.</summary>
    Task<int> CallAsync();
}

/// <summary>Exercises the proxy's method shapes.</summary>
public interface IProxyGrain : IGrainWithStringKey
{
    /// <summary>A void-like call.</summary>
    Task TouchAsync();

    /// <summary>A call with a result.</summary>
    Task<int> AddAsync(int a, int b);

    /// <summary>A call with a reference-type result and a default parameter.</summary>
    Task<string> EchoAsync(string text, CancellationToken cancellationToken = default);

    /// <summary>Returns the key and the number of touches.</summary>
    Task<string> DescribeAsync();

    /// <summary>An async method that throws.</summary>
    Task FailAsync(string message);

    /// <summary>A non-async method that throws before returning a task.</summary>
    Task<int> FailSynchronouslyAsync(string message);

    /// <summary>Calls another grain through the grain factory.</summary>
    Task<int> AddViaOtherAsync(string otherKey, int a, int b);
}

/// <summary>Thrown by test grain code; must reach the caller as is.</summary>
public sealed class GrainTestException(string message) : Exception(message);

internal sealed class TurnGrain(GrainProbe probe) : Grain, ITurnGrain
{
    public async Task<int> RecordAsync(int call)
    {
        probe.Enter(call);
        try
        {
            // Real asynchronous gaps: without turn-based scheduling the next call would run here.
            await Task.Yield();
            await Task.Delay(1);
            await Task.Yield();
            return call;
        }
        finally
        {
            probe.Exit();
        }
    }
}

internal sealed class MeetGrain(GrainProbe probe) : Grain, IMeetGrain
{
    public async Task MeetAsync(string other)
    {
        probe.Gate(PrimaryKey).TrySetResult();
        await probe.Gate(other).Task;
    }
}

internal sealed class LifecycleGrain(GrainProbe probe) : Grain, ILifecycleGrain
{
    private int _instance;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Events.Enqueue("activate-start");

        // A real gap: calls queued meanwhile must still wait for activation to finish.
        await Task.Delay(10, cancellationToken);
        _instance = Interlocked.Increment(ref probe.Activations);
        probe.Events.Enqueue("activate-end");
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.DeactivationReasons.Enqueue(reason);
        probe.Events.Enqueue("deactivate");
        Interlocked.Increment(ref probe.Deactivations);
        return Task.CompletedTask;
    }

    public Task<int> CallAsync()
    {
        probe.Events.Enqueue("call");
        return Task.FromResult(_instance);
    }

    public Task BlockAsync(string gate) => probe.Gate(gate).Task;

    public Task LeaveAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

internal sealed class FlakyActivationGrain(GrainProbe probe) : Grain, IFlakyActivationGrain
{
    private int _instance;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Held open by the test so that several calls queue behind the activation.
        await probe.Gate("activation").Task;
        if (Interlocked.Decrement(ref probe.FailActivations) >= 0)
        {
            throw new GrainTestException("activation failed on purpose");
        }

        _instance = Interlocked.Increment(ref probe.Activations);
    }

    public Task<int> CallAsync() => Task.FromResult(_instance);
}

internal sealed class ProxyGrain : Grain, IProxyGrain
{
    private int _touches;

    public Task TouchAsync()
    {
        _touches++;
        return Task.CompletedTask;
    }

    public Task<int> AddAsync(int a, int b) => Task.FromResult(a + b);

    public Task<string> EchoAsync(string text, CancellationToken cancellationToken = default) => Task.FromResult(text);

    public Task<string> DescribeAsync() => Task.FromResult($"{PrimaryKey}:{_touches}");

    public async Task FailAsync(string message)
    {
        await Task.Yield();
        throw new GrainTestException(message);
    }

    public Task<int> FailSynchronouslyAsync(string message) => throw new GrainTestException(message);

    public Task<int> AddViaOtherAsync(string otherKey, int a, int b) => GrainFactory.GetGrain<IProxyGrain>(otherKey).AddAsync(a, b);
}
