using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Client;
using OrleansReplication.Silo.AntiEntropy;
using OrleansReplication.Silo.Diagnostics;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.AntiEntropy;

/// <summary>
/// Anti-entropy in a 3-silo cluster, in the background at its configured pace: an item changed on
/// a standby's warm copy behind the replication's back and a row changed in the store are both
/// found and repaired, only the differing clump travels, and operators see it as cluster events
/// and in <c>GET /v1/cluster/partitions</c>.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ClusterAntiEntropyTests
{
    private const string Component = "ae";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task StandbyItemAndStoreRowCorrupted_BothFoundAndRepaired_OnlyTheirClumpsTravel()
    {
        await using var cluster = await ReplicationCluster.StartAsync(3, new Dictionary<string, string?>
        {
            ["Silo:Replication:AntiEntropy:CheckInterval"] = "00:00:00.300",
            ["Silo:Replication:AntiEntropy:StoreCheckInterval"] = "00:00:00.300",
        });
        using var repairs = RepairCounter(cluster);
        var replicator = cluster.Client.GetReplicator<string>(Component);
        for (var i = 0; i < 400; i += 50)
        {
            await replicator.SetStateItemsAsync([.. Enumerable.Range(i, 50).Select(k => KeyValuePair.Create<ItemKey, string>("k" + k, "v" + k))], new WriteOptions { Safety = SafetyLevel.Durable });
        }

        await cluster.WaitForReplicationToStabilizeAsync();
        var (primary, standby, p) = RolesOf(cluster, "k42");
        var partition = primary.Services.GetRequiredService<PartitionManager>().Partitions[p];
        var victim = new ItemAddress(Component, string.Empty, "k42");
        var truth = partition.Items.Get(victim)!;

        // Only repairs of what is corrupted below count: one of a start-up race would pass the waits early.
        var events = primary.Services.GetRequiredService<ClusterEventChannel>();
        var (storePrimary, _, q) = RolesOf(cluster, "k77");
        var storeEvents = storePrimary.Services.GetRequiredService<ClusterEventChannel>();
        var lastEvent = events.Recent.Select(e => e.Id).DefaultIfEmpty().Max();
        var lastStoreEvent = storeEvents.Recent.Select(e => e.Id).DefaultIfEmpty().Max();
        repairs.Reset();
        var sentBefore = partition.RepairItemsSent;

        // Behind the replication's back: the standby's warm copy, and a row of another item in the store.
        Assert.True(standby.Services.GetRequiredService<StandbyHost>().CorruptForTesting(p, victim, truth.Version, "\"rotten\""u8.ToArray()));
        await using (var connection = new SqliteConnection(StateStoreFactory.SqliteConnectionString(cluster.DataDir)))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE or_items SET value = x'22726f7474656e22' WHERE component = 'ae' AND item_id = 'k77'";
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        await Wait.UntilAsync(
            () => events.Recent.Any(e => e.Id > lastEvent && e.Kind == ClusterEventKinds.ReplicaRepaired && e.Partition == p),
            Deadline,
            $"anti-entropy to repair partition {p}'s standby on {standby.Name}");
        await Wait.UntilAsync(
            () => storeEvents.Recent.Any(e => e.Id > lastStoreEvent && e.Kind == ClusterEventKinds.StoreRepaired && e.Partition == q),
            Deadline,
            $"anti-entropy to repair partition {q}'s store row on {storePrimary.Name}");

        // Mended, and only the victim's clump travelled to the standby.
        var copy = standby.Services.GetRequiredService<StandbyHost>().Find(p)!.Items.Get(victim)!;
        Assert.Equal((truth.Version, "\"v42\""), (copy.Version, System.Text.Encoding.UTF8.GetString(copy.Json)));
        var clump = ClumpDigest.ClumpOf(ClumpDigest.AddressHash(victim), new ReplicationOptions().AntiEntropy.Clumps);
        var clumpItems = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        partition.Items.CollectClumps(new HashSet<int> { clump }, clumpItems);
        Assert.Equal(clumpItems.Count, partition.RepairItemsSent - sentBefore);
        Assert.True(partition.RepairItemsSent - sentBefore < partition.Items.Count / 4, $"{partition.RepairItemsSent - sentBefore} of the partition's {partition.Items.Count} items travelled");
        Assert.Equal("v77", Assert.Single(await replicator.GetStateItemsAsync([new ItemKey("k77")])).Value);
        var row = (await storePrimary.Services.GetRequiredService<IStateStore>().LoadPartitionAsync(q, default)).Items.Single(i => i.Id == "k77");
        Assert.Equal("\"v77\"", System.Text.Encoding.UTF8.GetString(row.Value));
        var repaired = events.Recent.First(e => e.Id > lastEvent && e.Kind == ClusterEventKinds.ReplicaRepaired && e.Partition == p);
        Assert.Contains("1 item(s) repaired", repaired.Reason, StringComparison.Ordinal);
        Assert.Equal(2, repairs.Items); // one item on the standby, one row in the store

        // Operators see the last comparison of every standby and of the store, from any silo.
        await Wait.UntilAsync(
            async () =>
            {
                var view = (await cluster.Silos[2].Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions")[p];
                return view.GetProperty("standbys").EnumerateArray().All(s => s.GetProperty("lastCheck").ValueKind == JsonValueKind.Object)
                    && view.GetProperty("storeCheck").ValueKind == JsonValueKind.Object;
            },
            Deadline,
            $"partition {p}'s last checks to show in GET /v1/cluster/partitions");

        // On demand, from any silo: every standby and every store partition now compares equal.
        using var verified = await cluster.Silos[1].Http.PostAsync("v1/cluster/partitions/verify?store=true", null);
        verified.EnsureSuccessStatusCode();
        var partitions = (await verified.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(ReplicationCluster.PartitionCount, partitions.Count);
        Assert.All(partitions, view =>
        {
            Assert.All(view.GetProperty("standbys").EnumerateArray(), s => Assert.Equal("in-sync", s.GetProperty("lastCheck").GetProperty("outcome").GetString()));
            Assert.Equal("in-sync", view.GetProperty("storeCheck").GetProperty("outcome").GetString());
        });
        Assert.Equal(string.Empty, cluster.LoggedErrors());
    }

    [Fact]
    public async Task SiloDrainedWhileChecksRun_ComparisonsRestartOnTheNewPrimaries_AllInSync()
    {
        await using var cluster = await ReplicationCluster.StartAsync(3, new Dictionary<string, string?>
        {
            ["Silo:Replication:AntiEntropy:CheckInterval"] = "00:00:00.100",
        });
        var replicator = cluster.Client.GetReplicator<string>(Component);
        await cluster.WaitForReplicationToStabilizeAsync();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, string>("k" + (n % 300), "v" + n)]);
            }
        });

        var target = cluster.Silos[1];
        var targetId = ReplicationCluster.IdOf(target);
        using (var accepted = await cluster.Silos[0].Http.PostAsync($"v1/cluster/silos/{targetId}/drain", null))
        {
            accepted.EnsureSuccessStatusCode();
        }

        await Wait.UntilAsync(async () => await cluster.Silos[0].PartitionsLedByAsync(targetId) == 0, Deadline, $"the drained silo {targetId} to lead no partition");
        await stop.CancelAsync();
        await writer.WaitAsync(Deadline);

        // Checks in flight when their partitions moved ended with their primaries; the new
        // primaries compare afresh, and once the moved standbys are caught up every copy is the same.
        await Wait.UntilAsync(
            async () =>
            {
                using var verified = await cluster.Silos[2].Http.PostAsync("v1/cluster/partitions/verify", null);
                var body = await verified.Content.ReadAsStringAsync();
                var outcomes = verified.IsSuccessStatusCode
                    ? JsonDocument.Parse(body).RootElement.GetProperty("partitions").EnumerateArray()
                        .SelectMany(view => view.TryGetProperty("standbys", out var standbys) ? standbys.EnumerateArray().ToList() : [])
                        .Select(s => s.TryGetProperty("lastCheck", out var check) ? check.GetProperty("outcome").GetString() : "none")
                        .ToList()
                    : [];
                return outcomes.Count == ReplicationCluster.PartitionCount && outcomes.All(o => o == "in-sync");
            },
            Deadline,
            "every partition's standby to verify in sync after the drain");
        Assert.DoesNotContain(cluster.Silos.SelectMany(s => s.Services.GetRequiredService<ClusterEventChannel>().Recent), e => e.Kind is ClusterEventKinds.ReplicaRepaired or ClusterEventKinds.ReplicaResynced);
        Assert.Equal(string.Empty, cluster.LoggedErrors());
    }

    /// <summary>Sums the items every silo's <c>orleans_replication.anti_entropy.items_repaired</c> counter records.</summary>
    private static RepairListener RepairCounter(ReplicationCluster cluster) =>
        new(cluster.Silos.Select(s => s.Services.GetRequiredService<ReplicationMetrics>().Meter).ToHashSet());

    private sealed class RepairListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _items;

        public RepairListener(HashSet<Meter> meters)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (meters.Contains(instrument.Meter) && instrument.Name == "orleans_replication.anti_entropy.items_repaired")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _items, value));
            _listener.Start();
        }

        public long Items => Interlocked.Read(ref _items);

        public void Reset() => Interlocked.Exchange(ref _items, 0);

        public void Dispose() => _listener.Dispose();
    }

    private static (ClusterSilo Primary, ClusterSilo Standby, int Partition) RolesOf(ReplicationCluster cluster, string id)
    {
        var p = cluster.Silos[0].Services.GetRequiredService<PartitionManager>().GetPartitionId(Component, new ItemKey(id));
        var primary = cluster.Silos.Single(s => s.Services.GetRequiredService<PartitionManager>().Leads(p));

        // The standby the primary streams to (a silo may still hold an older copy it no longer follows).
        var link = Assert.Single(primary.Services.GetRequiredService<PartitionManager>().Partitions[p].Links, l => l.InSync);
        var standby = cluster.Silos.Single(s => ReplicationCluster.IdOf(s) == link.Name);
        return (primary, standby, p);
    }
}
