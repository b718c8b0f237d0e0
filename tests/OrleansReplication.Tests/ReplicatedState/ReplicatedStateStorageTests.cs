using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>
/// <c>[ReplicatedState(..., storageName)]</c> on a test cluster, with the grain storage "store" every
/// silo has (Orleans' ADO.NET storage, here on SQLite): a state an Orleans application persisted there before is taken in at the
/// grain's first activation; acknowledged changes follow into the storage, a <c>Durable</c> one before
/// the call returns.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ReplicatedStateStorageTests(OrleansClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StatePersistedBefore_TakenInAtFirstActivation_ThenReplicated()
    {
        var grain = fixture.Cluster.Client.GetGrain<IMirroredCounterGrain>("adopted-" + Guid.NewGuid().ToString("N"));
        await WriteStorageAsync(grain, 41);

        Assert.Equal(41, await grain.GetAsync());
        Assert.Equal(42, await grain.AddAsync(1, SafetyLevel.Applied));
        await Wait.UntilAsync(async () => await ReadStorageAsync(grain) == 42, Deadline, "the storage to follow the replicated counter to 42");
    }

    [Fact]
    public async Task DurableWrite_InTheStorageWhenItReturns_BackgroundWritesFollow_ClearClearsIt()
    {
        var grain = fixture.Cluster.Client.GetGrain<IMirroredCounterGrain>("mirrored-" + Guid.NewGuid().ToString("N"));

        Assert.Equal(5, await grain.AddAsync(5, SafetyLevel.Durable));
        Assert.Equal(5, await ReadStorageAsync(grain));

        for (var i = 0; i < 20; i++)
        {
            await grain.AddAsync(1, SafetyLevel.Local);
        }

        await Wait.UntilAsync(async () => await ReadStorageAsync(grain) == 25, Deadline, "the storage to follow 20 background writes to 25");

        await grain.ClearAsync(SafetyLevel.Durable);
        Assert.Null(await ReadStorageAsync(grain));
    }

    [Fact]
    public async Task StorageDown_ActivationAndDurableWriteFailTyped_OthersServe_NextWriteCatchesUp()
    {
        var active = fixture.Cluster.Client.GetGrain<IMirroredCounterGrain>("outage-" + Guid.NewGuid().ToString("N"));
        var fresh = fixture.Cluster.Client.GetGrain<IMirroredCounterGrain>("outage-fresh-" + Guid.NewGuid().ToString("N"));
        var behind = fixture.Cluster.Client.GetGrain<IMirroredCounterGrain>("outage-behind-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(1, await active.AddAsync(1, SafetyLevel.Durable));
        Assert.Equal(1, await behind.AddAsync(1, SafetyLevel.Durable));
        SetStorageDown(true);
        try
        {
            // Not in its partition, so read from the storage at activation: a typed, retryable error
            // that crosses the wire (the provider's own exception type has no Orleans codec).
            var read = await Assert.ThrowsAsync<ReplicaUnavailableException>(fresh.GetAsync);
            Assert.Contains("its grain storage could not be read (StorageOutageException", read.Message, StringComparison.Ordinal);

            // Durable waits for the storage: replicated, but not acknowledged as durable.
            var write = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => active.AddAsync(1, SafetyLevel.Durable));
            Assert.Contains("its grain storage did not take it (StorageOutageException", write.Message, StringComparison.Ordinal);

            // Below Durable the storage is written behind: the write is acknowledged without it.
            Assert.Equal(2, await behind.AddAsync(1, SafetyLevel.Applied));
        }
        finally
        {
            SetStorageDown(false);
        }

        Assert.Equal(0, await fresh.GetAsync());
        Assert.Equal(3, await active.AddAsync(1, SafetyLevel.Durable));
        Assert.Equal(3, await ReadStorageAsync(active));
    }

    private void SetStorageDown(bool down)
    {
        foreach (var silo in fixture.Cluster.Silos)
        {
            ((ReadCountingGrainStorage)silo.Services.GetRequiredKeyedService<IGrainStorage>(ReplicationSiloConfigurator.GrainStorage)).Down = down;
        }
    }

    private IGrainStorage Storage => fixture.Cluster.Silos[0].Services.GetRequiredKeyedService<IGrainStorage>(ReplicationSiloConfigurator.GrainStorage);

    private Task WriteStorageAsync(IMirroredCounterGrain grain, int value) =>
        Storage.WriteStateAsync("count", grain.GetGrainId(), new GrainState<int>(value));

    private async Task<int?> ReadStorageAsync(IMirroredCounterGrain grain)
    {
        var state = new GrainState<int>();
        await Storage.ReadStateAsync("count", grain.GetGrainId(), state);
        return state.RecordExists ? state.State : null;
    }
}
