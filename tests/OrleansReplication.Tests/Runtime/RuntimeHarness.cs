using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Runtime;

namespace OrleansReplication.Tests.Runtime;

/// <summary>A grain runtime over the test grains, with a manual clock and a probe the grains report to.</summary>
internal sealed class RuntimeHarness : IAsyncDisposable
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(10);

    private readonly ServiceProvider _services;

    public RuntimeHarness()
    {
        var registry = new GrainTypeRegistry()
            .Add(typeof(ITurnGrain), typeof(TurnGrain))
            .Add(typeof(IMeetGrain), typeof(MeetGrain))
            .Add(typeof(ILifecycleGrain), typeof(LifecycleGrain))
            .Add(typeof(IFlakyActivationGrain), typeof(FlakyActivationGrain))
            .Add(typeof(IProxyGrain), typeof(ProxyGrain));
        _services = new ServiceCollection().AddSingleton(Probe).BuildServiceProvider();
        Runtime = new GrainRuntime(
            registry,
            _services,
            Time,
            Options.Create(new GrainRuntimeOptions { IdleTimeout = IdleTimeout, CollectionInterval = TimeSpan.FromMinutes(1) }),
            NullLogger<GrainRuntime>.Instance);
    }

    public GrainProbe Probe { get; } = new();

    public ManualTimeProvider Time { get; } = new();

    public GrainRuntime Runtime { get; }

    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Runtime.DeactivateAllAsync(deadline.Token);
        await _services.DisposeAsync();
    }
}
