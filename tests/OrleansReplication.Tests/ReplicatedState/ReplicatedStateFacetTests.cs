using Orleans;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Examples;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>
/// The <c>[ReplicatedState]</c> facet in user grains on a 3-silo test cluster: what Orleans users
/// rely on from <c>IPersistentState</c> (versions, ETags, clear, several states per grain), state
/// that survives deactivation with no store read, typed errors that leave the acknowledged state,
/// and grain state the HTTP API cannot reach.
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ReplicatedStateFacetTests(OrleansClusterFixture fixture)
{
    [Fact]
    public async Task TwoFacets_WriteIncrementClear_VersionsETagsAndRecordExists()
    {
        var grain = fixture.Cluster.Client.GetGrain<IFacetProbeGrain>("probe-" + Guid.NewGuid().ToString("N"));

        var empty = await grain.GetAsync();
        Assert.Equal(new FacetProbeView(null, 0, null, false, 0, 0), empty);

        var set = await grain.SetProfileAsync("ada", 10);
        Assert.Equal(("ada", true), (set.Name, set.ProfileExists));
        Assert.True(set.ProfileVersion > 0);
        Assert.Equal($"\"{set.ProfileVersion}\"", set.ProfileETag);
        var again = await grain.SetProfileAsync("grace", 10);
        Assert.True(again.ProfileVersion > set.ProfileVersion);

        var once = await grain.IncrementAsync();
        var counted = await grain.IncrementAsync();
        Assert.Equal(2, counted.Counter);
        Assert.True(counted.CounterVersion > once.CounterVersion);
        Assert.Equal(("grace", again.ProfileVersion), (counted.Name, counted.ProfileVersion));

        var cleared = await grain.ClearProfileAsync();
        Assert.Equal((null, 0L, null, false), (cleared.Name, cleared.ProfileVersion, cleared.ProfileETag, cleared.ProfileExists));
        Assert.Equal(2, cleared.Counter);

        // Written again after a clear: it exists anew.
        var reborn = await grain.SetProfileAsync("hopper", 1);
        Assert.True(reborn.ProfileExists);
        Assert.Equal("hopper", reborn.Name);
    }

    [Fact]
    public async Task Deactivated_NextCallReadsTheWarmCopy_NothingLost_NoStoreRead()
    {
        var cluster = fixture.Cluster;
        var cart = cluster.Client.GetGrain<IShoppingCartGrain>("cart-" + Guid.NewGuid().ToString("N"));
        await cart.AddAsync("apple", 2);
        var before = await cart.AddAsync("pear", 1);
        var loadsBefore = StoreLoads(cluster);

        var probe = cluster.Client.GetGrain<IFacetProbeGrain>("probe-" + Guid.NewGuid().ToString("N"));
        await probe.SetProfileAsync("lovelace", 5);
        await probe.DeactivateAsync();
        var probeAfter = await probe.GetAsync();
        Assert.Equal("lovelace", probeAfter.Name);
        Assert.True(probeAfter.ProfileExists);

        var after = await cart.AddAsync("apple", 1);
        Assert.Equal(3, after.Lines["apple"]);
        Assert.Equal(1, after.Lines["pear"]);
        Assert.True(after.Version > before.Version);
        Assert.Equal(loadsBefore, StoreLoads(cluster));
    }

    [Fact]
    public async Task StateLargerThanMaxItemBytes_TypedError_StateStaysAsAcknowledged()
    {
        var grain = fixture.Cluster.Client.GetGrain<IFacetProbeGrain>("probe-" + Guid.NewGuid().ToString("N"));
        var small = await grain.SetProfileAsync("small", 10);

        var error = await Assert.ThrowsAsync<ItemTooLargeException>(() => grain.SetProfileAsync("huge", 2 * 1024 * 1024));
        Assert.Contains("Silo:MaxItemBytes", error.Message, StringComparison.Ordinal);

        // The grain's State went back to what the partition holds, and it keeps serving.
        var view = await grain.GetAsync();
        Assert.Equal(("small", small.ProfileVersion), (view.Name, view.ProfileVersion));
        Assert.True((await grain.SetProfileAsync("fits", 10)).ProfileVersion > small.ProfileVersion);
    }

    [Fact]
    public async Task GrainState_NotReachableOverHttp_TypedProblem()
    {
        var cart = fixture.Cluster.Client.GetGrain<IShoppingCartGrain>("cart-http");
        await cart.AddAsync("plum", 1);

        foreach (var silo in fixture.Cluster.Silos)
        {
            var response = await silo.Http.GetAsync("v1/components/grain:cart/items/" + Uri.EscapeDataString(cart.GetGrainId().ToString()));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("component name", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    private static int StoreLoads(ReplicationCluster cluster) =>
        cluster.Silos.Sum(s => ((ReadCountingStateStore)s.Services.GetRequiredService<IStateStore>()).LoadedPartitions.Count);
}
