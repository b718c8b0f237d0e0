using System.Text.Json;
using Orleans.Hosting;
using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.ClientApi;

public sealed class ReplicationClientTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private InProcessSilo _silo = null!;
    private ReplicationClient _client = null!;

    public sealed record Order([property: StateKey] string Id, decimal Total, string[] Lines);

    public async Task InitializeAsync()
    {
        _silo = await InProcessSilo.StartAsync(_dir.Path);
        _client = await ReplicationClient.ConnectAsync(new ReplicationClientOptions { Gateways = [_silo.GatewayEndPoint.ToString()] });
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _silo.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task SetStateItems_InternallyKeyed_RoundTripsWithVersions()
    {
        var orders = _client.GetReplicator<Order>("orders");
        var written = await orders.SetStateItemsAsync([new Order("o1", 10m, ["a"]), new Order("o2", 20m, ["b", "c"])]);

        Assert.Equal(2, written.Count);
        Assert.All(written, r => Assert.True(r.Version > 0 && r.Created));
        var read = await orders.GetStateItemsAsync(["o2", "missing", "o1"]);
        Assert.Equal(["o2", "o1"], read.Select(i => i.Key.Id));
        Assert.Equal(new Order("o2", 20m, ["b", "c"]) with { Lines = read[0].Value.Lines }, read[0].Value);
        Assert.Equal(["b", "c"], read[0].Value.Lines);
        Assert.Equal(written[0].Version, read[1].Version);
    }

    [Fact]
    public async Task Apply_StaleVersion_ThrowsConflictWithCurrentVersionAndAppliesNothing()
    {
        var replicator = _client.GetReplicator<int>("counters");
        var first = (await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey("a", "grp"), 1)]))[0];
        await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey("a", "grp"), 2)]);

        var conflict = await Assert.ThrowsAsync<VersionConflictException>(() => replicator.ApplyAsync(
        [
            ItemWrite<int>.Set(new ItemKey("b", "grp"), 100),
            ItemWrite<int>.Set(new ItemKey("a", "grp"), 3, Expect.Version(first.Version)),
        ]));

        Assert.Single(conflict.Conflicts);
        Assert.True(conflict.Conflicts[0].CurrentVersion > first.Version);
        Assert.Empty(await replicator.GetStateItemsAsync([new ItemKey("b", "grp")]));
        Assert.Equal(2, (await replicator.GetStateItemsAsync([new ItemKey("a", "grp")]))[0].Value);
    }

    [Fact]
    public async Task RemoveStateItems_RemovesAndReportsMissing()
    {
        var replicator = _client.GetReplicator<string>("names");
        await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>("x", "ex")]);

        var results = await replicator.RemoveStateItemsAsync(["x", "never"]);

        Assert.True(results[0].Changed && results[0].Removed);
        Assert.False(results[1].Changed);
        Assert.Empty(await replicator.GetStateItemsAsync(["x"]));
    }

    [Fact]
    public async Task GetAllStateItems_LateJoiner_PagesThroughEveryItemInOrder()
    {
        var replicator = _client.GetReplicator<int>("late");
        await replicator.SetStateItemsAsync(Enumerable.Range(0, 1200).Select(i => KeyValuePair.Create<ItemKey, int>($"k{i:D5}", i)));

        var all = new List<VersionedItem<int>>();
        await foreach (var item in replicator.GetAllStateItemsAsync())
        {
            all.Add(item);
        }

        Assert.Equal(1200, all.Count);
        Assert.Equal(Enumerable.Range(0, 1200), all.Select(i => i.Value));
        var page = await replicator.GetAllStateItemsAsync("k00009", 3);
        Assert.Equal(["k00010", "k00011", "k00012"], page.Items.Select(i => i.Key.Id));
        Assert.Equal("k00012", page.NextAfter);
    }

    [Fact]
    public async Task GetGrain_StateItemGrain_GetSetRemoveWithETags()
    {
        var grain = _client.GetGrain<IStateItemGrain>(StateItemGrainKey.Format("profiles", "u1"));
        Assert.Null(await grain.GetAsync());

        var v1 = (await grain.SetAsync(JsonSerializer.SerializeToUtf8Bytes(new { name = "Ada" }), Expect.Absent)).Version;
        var read = await grain.GetAsync();
        Assert.Equal(v1, read!.Version);
        Assert.Equal("Ada", JsonDocument.Parse(read.Json).RootElement.GetProperty("name").GetString());

        // Typed errors cross the grain boundary as the same type, with their data.
        var conflict = await Assert.ThrowsAsync<VersionConflictException>(() => grain.SetAsync(JsonSerializer.SerializeToUtf8Bytes(1), Expect.Absent));
        Assert.Equal(v1, Assert.Single(conflict.Conflicts).CurrentVersion);
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.SetAsync("{not json"u8.ToArray()));
        var v2 = (await grain.SetAsync(JsonSerializer.SerializeToUtf8Bytes(new { name = "Grace" }), Expect.Version(v1))).Version;
        Assert.True(v2 > v1);
        Assert.True((await grain.RemoveAsync(Expect.Version(v2))).Changed);
        Assert.Null(await grain.GetAsync());
    }

    [Fact]
    public async Task Client_BadInput_ThrowsTypedErrorsAndKeepsWorking()
    {
        Assert.Throws<InvalidRequestException>(() => _client.GetReplicator<int>("bad name"));
        var replicator = _client.GetReplicator<string>("limits");
        await Assert.ThrowsAsync<InvalidRequestException>(() => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>("", "x")]));
        await Assert.ThrowsAsync<InvalidRequestException>(() => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>(new string('i', 600), "x")]));
        await Assert.ThrowsAsync<ItemTooLargeException>(() => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>("big", new string('x', 1_100_000))]));

        var ok = await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>("fine", "y")]);
        Assert.True(ok[0].Version > 0);
        Assert.Empty(await replicator.GetStateItemsAsync(["big"]));
    }

    [Fact]
    public async Task Client_SiloRestarts_ReconnectsAndReadsPersistedState()
    {
        var replicator = _client.GetReplicator<int>("restart");
        var written = await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("r", 7)]);
        var gateway = _silo.GatewayEndPoint;
        var settings = new Dictionary<string, string?>
        {
            ["Silo:HttpPort"] = _silo.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Silo:GatewayPort"] = gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Silo:SiloPort"] = _silo.SiloEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        await _silo.DisposeAsync();
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        // Writes are not retried: depending on whether the client has noticed the closed connection
        // yet, it fails as "connection lost" or waits for a new one until the caller gives up.
        var whileDown = await Record.ExceptionAsync(() => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("r", 8)], cancellationToken: giveUp.Token));
        Assert.True(whileDown is ReplicaUnavailableException or OperationCanceledException, $"Unexpected: {whileDown}");
        _silo = await InProcessSilo.StartAsync(_dir.Path, settings);
        Assert.Equal(gateway, _silo.GatewayEndPoint);

        // Reads are retried across the reconnect; the client waits for the new connection.
        var read = await replicator.GetStateItemsAsync(["r"]);
        Assert.Equal(7, read[0].Value);
        Assert.Equal(written[0].Version, read[0].Version);
    }

    [Fact]
    public async Task ConnectAsync_NoGateway_ThrowsUnavailableNamingGateways()
    {
        var error = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => ReplicationClient.ConnectAsync(new ReplicationClientOptions
        {
            Gateways = ["127.0.0.1:1"],
            ConnectTimeout = TimeSpan.FromMilliseconds(500),
        }));

        Assert.Contains("127.0.0.1:1", error.Message);
    }

    [Fact]
    public async Task ItemWrittenOverHttp_ReadThroughReplicator_HasItsStateKeyFilled()
    {
        using var put = await _silo.Http.PutAsync("v1/components/orders-http/items/o-7", new StringContent("{\"total\":12.5,\"lines\":[\"x\"]}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.Created, put.StatusCode);

        var orders = _client.GetReplicator<Order>("orders-http");
        var read = Assert.Single(await orders.GetStateItemsAsync(["o-7"]));
        var listed = Assert.Single((await orders.GetAllStateItemsAsync(null, 10)).Items);

        Assert.Equal("o-7", read.Value.Id);
        Assert.Equal(12.5m, read.Value.Total);
        Assert.Equal("o-7", listed.Value.Id);
    }

    [Fact]
    public async Task ItemOfAnotherShape_ReadAsAType_ThrowsTypedErrorNamingTheItem_OthersStillRead()
    {
        using var put = await _silo.Http.PutAsync("v1/components/orders-shapes/items/o-2", new StringContent("42", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.Created, put.StatusCode);
        var orders = _client.GetReplicator<Order>("orders-shapes");
        await orders.SetStateItemsAsync([KeyValuePair.Create<ItemKey, Order>("o-1", new Order("o-1", 1, []))]);

        var listed = await Assert.ThrowsAsync<ItemFormatException>(() => orders.GetAllStateItemsAsync(null, 10));
        var read = await Assert.ThrowsAsync<ItemFormatException>(() => orders.GetStateItemsAsync(["o-2"]));

        Assert.Equal(("orders-shapes", "o-2", 1L), (listed.Component, listed.Item, listed.Version));
        Assert.Contains("Item 'o-2' (version 1) of 'orders-shapes' is not JSON of Order", read.Message, StringComparison.Ordinal);
        Assert.Equal(1m, Assert.Single(await orders.GetStateItemsAsync(["o-1"])).Value.Total);
        var raw = _client.GetReplicator<JsonElement>("orders-shapes");
        Assert.Equal(42, Assert.Single(await raw.GetStateItemsAsync(["o-2"])).Value.GetInt32());
    }

    [Fact]
    public async Task PlainOrleansClient_PartitionGrain_RefusesItemsOfAnotherPartitionWithTypedError()
    {
        var count = (await _client.Cluster.GetGrain<IClusterInfoGrain>(0).GetAsync()).PartitionCount;
        var partition = PartitionHasher.GetPartition("plain", "a", count);
        var other = (partition + 1) % count;

        var error = await Assert.ThrowsAsync<InvalidRequestException>(() => _client.Cluster.GetGrain<IPartitionGrain>(other).ApplyAsync("plain", [new ItemWriteData("a", "1"u8.ToArray(), Expect.Any)], SafetyLevel.Default, null));
        Assert.Contains($"partition {partition}", error.Message, StringComparison.Ordinal);
        var results = await _client.Cluster.GetGrain<IPartitionGrain>(partition).ApplyAsync("plain", [new ItemWriteData("a", "1"u8.ToArray(), Expect.Absent)], SafetyLevel.Default, new IdempotencyId("plain-client", 1));
        var replay = await _client.Cluster.GetGrain<IPartitionGrain>(partition).ApplyAsync("plain", [new ItemWriteData("a", "1"u8.ToArray(), Expect.Absent)], SafetyLevel.Default, new IdempotencyId("plain-client", 1));
        Assert.True(Assert.Single(results).Created);
        Assert.Equal(results, replay);
    }

    // What the raw gateway tests guarded, on Orleans grain calls: bad input gets a typed error,
    // changes nothing, and the silo keeps serving.
    [Fact]
    public async Task PlainOrleansClient_BadInput_TypedErrorsNothingAppliedSiloKeepsServing()
    {
        var cluster = _client.Cluster;
        var count = (await cluster.GetGrain<IClusterInfoGrain>(0).GetAsync()).PartitionCount;
        var p = PartitionHasher.GetPartition("bad", "a", count);
        var grain = cluster.GetGrain<IPartitionGrain>(p);
        ItemWriteData Write(string json) => new("a", System.Text.Encoding.UTF8.GetBytes(json), Expect.Any);

        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.ApplyAsync("bad component!", [Write("1")], SafetyLevel.Default, null));
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.ApplyAsync("bad", [Write("{not json")], SafetyLevel.Default, null));
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.ApplyAsync("bad", [], SafetyLevel.Default, null));
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.ApplyAsync("bad", [Write("1")], (SafetyLevel)99, null));
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.ApplyAsync("bad", [Write("1")], SafetyLevel.Default, new IdempotencyId(string.Empty, 1)));
        await Assert.ThrowsAsync<ItemTooLargeException>(() => grain.ApplyAsync("bad", [Write("\"" + new string('x', 2 * 1024 * 1024) + "\"")], SafetyLevel.Default, null));
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.GetAsync("bad", [new ItemKey("bad\nid")]));
        await Assert.ThrowsAsync<InvalidRequestException>(() => grain.ListAsync("bad", null, 0));
        await Assert.ThrowsAsync<InvalidRequestException>(() => cluster.GetGrain<IPartitionGrain>(count + 5).GetAsync("bad", [new ItemKey("a")]));
        await Assert.ThrowsAsync<InvalidRequestException>(() => cluster.GetGrain<IStateItemGrain>("no-slash").GetAsync());

        Assert.Empty(await grain.GetAsync("bad", [new ItemKey("a")]));
        var ok = await grain.ApplyAsync("bad", [Write("1")], SafetyLevel.Default, null);
        Assert.True(Assert.Single(ok).Created);
    }

    // An Orleans user's own client host: UseOrleansClient + AddStateReplication, then GetReplicator
    // on the IClusterClient and plain GetGrain<IStateItemGrain>.
    [Fact]
    public async Task OwnOrleansClientHost_AddStateReplication_GetReplicatorAndGetGrainWork()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings());
        Microsoft.Extensions.Hosting.OrleansClientGenericHostExtensions.UseOrleansClient(builder, client => client
            .UseStaticClustering(_silo.GatewayEndPoint)
            .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("orleans-replication", "orleans-replication"))
            .AddStateReplication(o => o.RequestTimeout = TimeSpan.FromSeconds(10)));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var cluster = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Orleans.IClusterClient>(host.Services);
            var orders = cluster.GetReplicator<Order>("own-host");
            var written = await orders.SetStateItemsAsync([new Order("o-1", 3m, ["a"])]);
            var stored = await cluster.GetGrain<IStateItemGrain>(StateItemGrainKey.Format("own-host", "o-1")).GetAsync();

            Assert.Equal(written[0].Version, stored!.Version);
            Assert.Equal(3m, JsonDocument.Parse(stored.Json).RootElement.GetProperty("total").GetDecimal());
            Assert.Equal("o-1", Assert.Single(await orders.GetStateItemsAsync(["o-1"])).Value.Id);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
