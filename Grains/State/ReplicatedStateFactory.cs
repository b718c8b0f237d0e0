using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansReplication.Grains.State;

/// <summary>Makes the replicated states of grains: a user grain's facets and an item grain's JSON.</summary>
internal sealed class ReplicatedStateFactory(IPartitionAccess access, PartitionActivations activations)
{
    // Per grain storage, for the whole silo: how many write-behinds may wait on it at once. Each
    // activation writes its own in the background, so without a bound a burst of first activations
    // (a failover, a bulk load) sends one write each at once, and the provider's connection pool,
    // exhausted, times out the activations' own reads behind them. Writes waiting here coalesce to
    // the latest per grain.
    private const int StorageWritesAtOnce = 16;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _storageWrites = new(StringComparer.Ordinal);

    /// <summary>A <c>[ReplicatedState(stateName)]</c> facet: named by the grain id, Orleans-serialized, read when the grain activates.</summary>
    /// <exception cref="InvalidOperationException"><paramref name="storageName"/> names no grain storage of this silo.</exception>
    public ReplicatedState<TState> CreateFacet<TState>(IGrainContext context, string stateName, string? storageName)
    {
        ArgumentNullException.ThrowIfNull(context);
        var codec = StateCodec<TState>.Orleans(context.ActivationServices.GetRequiredService<Serializer<TState>>());
        var name = (GrainStateNames.Component(stateName), new ItemKey(context.GrainId.ToString()));
        var mirror = storageName is null ? null : new StorageMirror<TState>(
            context.ActivationServices.GetKeyedService<IGrainStorage>(storageName)
                ?? throw new InvalidOperationException($"[ReplicatedState(\"{stateName}\", storageName: \"{storageName}\")] on {context.GrainId.Type}: this silo has no grain storage named '{storageName}'. Add it to the silo (e.g. siloBuilder.AddAdoNetGrainStorage(\"{storageName}\", ...)), or remove storageName."),
            _storageWrites.GetOrAdd(storageName, static _ => new SemaphoreSlim(StorageWritesAtOnce)),
            stateName,
            context.GrainId,
            codec);
        return new ReplicatedState<TState>(context, access, activations, codec, () => name, readOnActivation: true, mirror);
    }

    /// <summary>An item grain's state: its JSON as stored, named by the grain's key (<see cref="StateItemGrainKey"/>), read per call.</summary>
    public ReplicatedState<byte[]> CreateItem(IGrainContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = context.GrainId.Key.ToString()!;
        return new ReplicatedState<byte[]>(context, access, activations, StateCodec<byte[]>.Bytes(), () => StateItemGrainKey.Parse(key), readOnActivation: false);
    }
}
