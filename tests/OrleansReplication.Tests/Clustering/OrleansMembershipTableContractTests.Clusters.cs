using System.Net;
using Orleans;
using Orleans.Runtime;

namespace OrleansReplication.Tests.Clustering;

/// <summary>Whole-cluster operations: defunct-row cleanup, deleting a cluster, cluster isolation, the gateway list.</summary>
public abstract partial class OrleansMembershipTableContractTests
{
    [Fact]
    public async Task CleanupDefunctSiloEntriesAsync_DeletesDeadRowsWithNoSignOfLifeSinceTheDateOnly()
    {
        var table = await InitializedTableAsync("cluster-a");
        var old = Now.AddDays(-10);
        var oldDead = NewEntry(SiloStatus.Dead, time: old);
        var oldDeadRecentVote = NewEntry(SiloStatus.Dead, time: old);
        var oldShuttingDown = NewEntry(SiloStatus.ShuttingDown, time: old);
        var oldActive = NewEntry(SiloStatus.Active, time: old);
        var recentDead = NewEntry(SiloStatus.Dead);
        foreach (var entry in new[] { oldDead, oldDeadRecentVote, oldShuttingDown, oldActive, recentDead })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }

        // A suspicion vote is a sign of life too (Orleans' EffectiveUpdateTime).
        var (voted, etag, version) = await ReadOneAsync(table, oldDeadRecentVote.SiloAddress);
        voted.AddSuspector(NewSilo("10.0.0.7"), Now);
        Assert.True(await table.UpdateRowAsync(voted, etag, version.Next()));

        await table.CleanupDefunctSiloEntriesAsync(new DateTimeOffset(Now.AddDays(-1)));

        // As Orleans 10's own in-memory table: only Dead rows go, and only when nothing about them is recent.
        var left = (await table.ReadAllAsync()).Members.Select(m => m.Item1.SiloAddress).Order();
        var expected = new[] { oldDeadRecentVote, oldShuttingDown, oldActive, recentDead }.Select(e => e.SiloAddress).Order();
        Assert.Equal(expected, left);
    }

    [Fact]
    public async Task DeleteMembershipTableEntries_RemovesThatClusterOnly()
    {
        var a = await InitializedTableAsync("cluster-a");
        var b = await InitializedTableAsync("cluster-b");
        Assert.True(await a.InsertRowAsync(NewEntry(), (await a.ReadAllAsync()).Version.Next()));
        var kept = NewEntry();
        Assert.True(await b.InsertRowAsync(kept, (await b.ReadAllAsync()).Version.Next()));

        await b.DeleteMembershipTableEntriesAsync("cluster-a");

        var deleted = await a.ReadAllAsync();
        Assert.Empty(deleted.Members);
        Assert.Equal(0, deleted.Version.Version);
        var other = await b.ReadAllAsync();
        Assert.Equal(kept.SiloAddress, Assert.Single(other.Members).Item1.SiloAddress);
        Assert.Equal(1, other.Version.Version);
    }

    [Fact]
    public async Task TwoClusterIds_HaveTheirOwnRowsAndVersions()
    {
        var a = await InitializedTableAsync("cluster-a");
        var b = await InitializedTableAsync("cluster-b");
        var silo = NewSilo();

        Assert.True(await a.InsertRowAsync(NewEntry(silo: silo), (await a.ReadAllAsync()).Version.Next()));
        Assert.True(await a.InsertRowAsync(NewEntry(), (await a.ReadAllAsync()).Version.Next()));

        var before = await b.ReadAllAsync();
        Assert.Empty(before.Members);
        Assert.Equal(0, before.Version.Version);
        Assert.Empty((await b.ReadRowAsync(silo)).Members);

        // The same silo address may be a member of both; each insert checks its own cluster's version.
        Assert.True(await b.InsertRowAsync(NewEntry(SiloStatus.Active, silo: silo), before.Version.Next()));
        Assert.Equal(1, (await b.ReadAllAsync()).Version.Version);
        Assert.Equal(2, (await a.ReadAllAsync()).Version.Version);
        Assert.Equal(SiloStatus.Joining, Assert.Single((await a.ReadRowAsync(silo)).Members).Item1.Status);
    }

    [Fact]
    public async Task GetGateways_ReturnsTheGatewaysOfActiveSilosOfItsClusterOnly()
    {
        var table = await InitializedTableAsync("cluster-a");
        var other = await InitializedTableAsync("cluster-b");
        var gateway1 = NewEntry(SiloStatus.Active, proxyPort: 30001, silo: NewSilo("10.0.0.1", 11111));
        var gateway2 = NewEntry(SiloStatus.Active, proxyPort: 30002, silo: NewSilo("10.0.0.2", 11112));
        foreach (var entry in new[]
        {
            gateway1,
            gateway2,
            NewEntry(SiloStatus.Active, proxyPort: 0),
            NewEntry(SiloStatus.Joining, proxyPort: 30003),
            NewEntry(SiloStatus.Dead, proxyPort: 30004),
            NewEntry(SiloStatus.ShuttingDown, proxyPort: 30005),
        })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }

        Assert.True(await other.InsertRowAsync(NewEntry(SiloStatus.Active, proxyPort: 30006), (await other.ReadAllAsync()).Version.Next()));
        var provider = await CreateGatewayListProviderAsync("cluster-a");
        await provider.InitializeGatewayListProviderAsync();

        var gateways = await provider.GetGatewaysAsync();

        // The gateway's address is the silo's with the proxy port, and keeps the silo's generation.
        var expected = new[] { gateway1, gateway2 }
            .Select(e => SiloAddress.New(new IPEndPoint(e.SiloAddress.Endpoint.Address, e.ProxyPort), e.SiloAddress.Generation).ToGatewayUri())
            .Select(uri => uri.ToString())
            .Order();
        Assert.Equal(expected, gateways.Select(uri => uri.ToString()).Order());
        Assert.True(provider.MaxStaleness > TimeSpan.Zero);
    }
}
