using Orleans;
using Orleans.Concurrency;
using OrleansReplication.Grains.State;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>A counter replicated and copied to the grain storage "store" every silo has.</summary>
[Alias("OrleansReplication.Tests.IMirroredCounterGrain")]
public interface IMirroredCounterGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task<int> AddAsync(int amount, SafetyLevel safety);

    [Alias("Get")]
    Task<int> GetAsync();

    [Alias("Clear")]
    Task ClearAsync(SafetyLevel safety);
}

internal sealed class MirroredCounterGrain([ReplicatedState("count", storageName: ReplicationSiloConfigurator.GrainStorage)] IReplicatedState<int> count) : Grain, IMirroredCounterGrain
{
    public async Task<int> AddAsync(int amount, SafetyLevel safety)
    {
        count.State += amount;
        await count.WriteStateAsync(safety);
        return count.State;
    }

    public Task<int> GetAsync() => Task.FromResult(count.State);

    public Task ClearAsync(SafetyLevel safety) => count.ClearStateAsync(safety);
}
