using Orleans;
using Orleans.Concurrency;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>A test grain with two <c>[ReplicatedState]</c> facets, one a class and one a value type.</summary>
[Alias("OrleansReplication.Tests.IFacetProbeGrain")]
public interface IFacetProbeGrain : IGrainWithStringKey
{
    [Alias("SetProfile")]
    Task<FacetProbeView> SetProfileAsync(string name, int padBytes);

    [Alias("Increment")]
    Task<FacetProbeView> IncrementAsync();

    [Alias("ClearProfile")]
    Task<FacetProbeView> ClearProfileAsync();

    [Alias("Get")]
    Task<FacetProbeView> GetAsync();

    [Alias("Deactivate")]
    Task DeactivateAsync();
}

/// <summary>What the probe's facets hold.</summary>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.Tests.FacetProbeView")]
public sealed record FacetProbeView(
    [property: Id(0)] string? Name,
    [property: Id(1)] long ProfileVersion,
    [property: Id(2)] string? ProfileETag,
    [property: Id(3)] bool ProfileExists,
    [property: Id(4)] int Counter,
    [property: Id(5)] long CounterVersion);

/// <summary>The probe's profile state.</summary>
[GenerateSerializer]
[Alias("OrleansReplication.Tests.ProbeProfile")]
public sealed class ProbeProfile
{
    [Id(0)]
    public string? Name { get; set; }

    [Id(1)]
    public string Pad { get; set; } = string.Empty;
}

internal sealed class FacetProbeGrain(
    [ReplicatedState("profile")] IReplicatedState<ProbeProfile> profile,
    [ReplicatedState("counter")] IReplicatedState<int> counter) : Grain, IFacetProbeGrain
{
    public async Task<FacetProbeView> SetProfileAsync(string name, int padBytes)
    {
        profile.State.Name = name;
        profile.State.Pad = new string('x', padBytes);
        await profile.WriteStateAsync();
        return View();
    }

    public async Task<FacetProbeView> IncrementAsync()
    {
        counter.State++;
        await counter.WriteStateAsync(SafetyLevel.Applied);
        return View();
    }

    public async Task<FacetProbeView> ClearProfileAsync()
    {
        await profile.ClearStateAsync();
        return View();
    }

    public Task<FacetProbeView> GetAsync() => Task.FromResult(View());

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private FacetProbeView View() => new(profile.State.Name, profile.Version, profile.ETag, profile.RecordExists, counter.State, counter.Version);
}
