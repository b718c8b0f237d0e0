using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;
using OrleansReplication.Client;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Tests.Infrastructure;
using OrleansTestCluster = Orleans.TestingHost.TestCluster;

namespace OrleansReplication.Tests.Hosting;

/// <summary>
/// The replication added to Orleans' own silos with nothing else of ours: <c>AddStateReplication()</c>
/// on a test cluster's silos (Orleans' names, ports, ids and test membership) and on its client.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class PlainOrleansSiloTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _dataDir = new("or-plain-silo-");
    private OrleansTestCluster? _cluster;

    private OrleansTestCluster Cluster => _cluster!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        builder.Options.ConfigureFileLogging = false;
        builder.Properties["Silo:DataDir"] = _dataDir.Path;
        builder.Properties["Silo:PartitionCount"] = "8";
        builder.AddSiloBuilderConfigurator<PlainSilo>();
        builder.AddClientBuilderConfigurator<PlainClient>();
        _cluster = builder.Build();
        await Wait.ForAsync(_cluster.DeployAsync(), Deadline, "two plain Orleans silos with the replication to start");
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dataDir.Dispose();
    }

    [Fact]
    public async Task AddStateReplicationAlone_SilosSeeEachOther_ItemsWrittenAtAppliedOnEveryPartitionAndReadBack()
    {
        // Each silo knows itself and its peer by Orleans' silo names, with the replication's metadata.
        foreach (var silo in Cluster.Silos.Cast<InProcessSiloHandle>())
        {
            var membership = silo.SiloHost.Services.GetRequiredService<MembershipService>();
            await Wait.UntilAsync(() => membership.Current.Silos.Count(s => s.Status == SiloStatus.Active) == 2, Deadline, $"{silo.Name} to see both silos active");
            Assert.Contains(membership.Current.Silos, s => s.Address.SiloId == silo.Name);
        }

        var replicator = Cluster.Client.GetReplicator<string>("plain");
        var items = Enumerable.Range(0, 40).Select(i => KeyValuePair.Create(new ItemKey("k" + i), "v" + i)).ToList();
        var written = await Wait.ForAsync(replicator.SetStateItemsAsync(items, new WriteOptions { Safety = SafetyLevel.Applied }), Deadline, "writes to every partition");

        Assert.Equal(40, written.Count);
        var read = await replicator.GetStateItemsAsync(items.Select(i => i.Key));
        Assert.Equal(items.Select(i => i.Value), read.Select(r => r.Value));
    }

    [Fact]
    public void UseSiloMetadataAsWell_RefusedWithWhereToPutTheMetadata()
    {
        var builder = Host.CreateApplicationBuilder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.UseOrleans(silo => silo.UseSiloMetadata().AddStateReplication()));

        Assert.Contains("Orleans:Metadata", error.Message, StringComparison.Ordinal);
    }

    private sealed class PlainSilo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddStateReplication();
    }

    private sealed class PlainClient : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) => clientBuilder.AddStateReplication();
    }
}
