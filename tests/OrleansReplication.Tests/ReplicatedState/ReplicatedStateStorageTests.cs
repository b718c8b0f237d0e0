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
