using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansReplication.Grains.Runtime;
using OrleansReplication.Silo.Runtime;

namespace OrleansReplication.Bench.Micro;

/// <summary>A grain with one cheap call: what a turn costs around it.</summary>
public interface IBenchCounterGrain : IGrainWithStringKey
{
    /// <summary>Adds one and returns the count.</summary>
    Task<int> IncrementAsync();
}

/// <summary>The activation behind <see cref="IBenchCounterGrain"/>.</summary>
internal sealed class BenchCounterGrain : Grain, IBenchCounterGrain
{
    private int _count;

    public Task<int> IncrementAsync() => Task.FromResult(++_count);
}

/// <summary>Grain turn dispatch: a call through the proxy to an active grain, queued and run as one turn.</summary>
[MemoryDiagnoser]
public class GrainTurnBenchmarks
{
    private ServiceProvider _services = null!;
    private GrainRuntime _runtime = null!;
    private IBenchCounterGrain _grain = null!;

    [GlobalSetup]
    public void Setup()
    {
        var registry = new GrainTypeRegistry().Add(typeof(IBenchCounterGrain), typeof(BenchCounterGrain));
        _services = new ServiceCollection().BuildServiceProvider();
        _runtime = new GrainRuntime(registry, _services, TimeProvider.System, Options.Create(new GrainRuntimeOptions()), NullLogger<GrainRuntime>.Instance);
        _grain = _runtime.GetGrain<IBenchCounterGrain>("bench");
        _grain.IncrementAsync().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _runtime.DeactivateAllAsync(CancellationToken.None).GetAwaiter().GetResult();
        _services.Dispose();
    }

    [Benchmark]
    public Task<int> CallActiveGrain() => _grain.IncrementAsync();
}
