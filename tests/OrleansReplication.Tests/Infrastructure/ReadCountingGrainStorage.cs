using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// A silo's Orleans grain storage with its reads counted by grain, so a test can say which grains
/// read their state from it (an activation's adoption read, a write's ETag refresh) and which did not;
/// and an outage switch (<see cref="Down"/>): the storage then fails as a provider does, with an
/// exception type of its own that Orleans has no codec for (as Npgsql's).
/// </summary>
internal sealed class ReadCountingGrainStorage(IGrainStorage inner) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private readonly ConcurrentQueue<GrainId> _reads = new();

    /// <summary>The grains that read a state, once per read, in order.</summary>
    public IReadOnlyList<GrainId> Reads => [.. _reads];

    /// <summary>Wraps the grain storage registered as <paramref name="name"/> (registered before: Orleans' <c>AddGrainStorage</c>).</summary>
    public static void Wrap(IServiceCollection services, string name)
    {
        var registered = services.Last(d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, name));
        var create = registered.KeyedImplementationFactory
            ?? throw new InvalidOperationException($"Grain storage '{name}' is not registered by a factory; cannot count its reads.");
        services.Remove(registered);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) => new ReadCountingGrainStorage((IGrainStorage)create(sp, key)));
    }

    /// <summary>While set, every call fails with <see cref="StorageOutageException"/>.</summary>
    public bool Down { get; set; }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        _reads.Enqueue(grainId);
        return Down ? Outage() : inner.ReadStateAsync(stateName, grainId, grainState);
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Down ? Outage() : inner.WriteStateAsync(stateName, grainId, grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Down ? Outage() : inner.ClearStateAsync(stateName, grainId, grainState);

    private static Task Outage() => Task.FromException(new StorageOutageException());

    // Orleans subscribes the keyed storage itself to the silo's lifecycle (its provider starts there).
    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
}

/// <summary>A grain storage provider's own failure: a type Orleans cannot serialize.</summary>
internal sealed class StorageOutageException() : Exception("The storage server is down (test outage).");
