using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Client;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>
/// A write whose primary crashed is retried with a growing backoff while the old primary refuses,
/// but sent again as soon as the map names the new primary, not when that backoff runs out. The
/// failover is made slow on purpose (the victim is a real process killed with SIGKILL, and Orleans' probes take about 4 s to declare it dead), so the backoff has grown to
/// seconds by then (100 ms doubled: tries at 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s).
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ClientFailoverRetryTests
{
    private const string Component = "retry";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PrimaryKilled_WriteRetrying_SentAgainAsSoonAsTheMapMovesNotAfterItsBackoff()
    {
        // Orleans declares the victim dead after two missed 4 s probes (a refused probe fails at once, so about 4 s; nothing speeds it up here).
        const string SlowProbes = "00:00:04";
        // Unanswered replication calls do not check the victim's port either, and no anti-entropy
        // check travels to it (a refused one would suspect it and have it declared dead at once):
        // Orleans' probes alone detect it.
        await using var cluster = await ReplicationCluster.StartAsync(2, new Dictionary<string, string?> { ["Silo:Membership:ProbeTimeout"] = SlowProbes, ["Silo:Replication:UnansweredCallCheckDelay"] = "-00:00:00.001", ["Silo:Replication:AntiEntropy:CheckInterval"] = "-00:00:00.001" }, siloProcesses: 1);

        // The victim is a real process on the same store (it gets the cluster's settings too): SIGKILL is a crash, not a graceful leave.
        var victim = cluster.SiloProcesses[0];
        var survivor = cluster.Silos[0].Services.GetRequiredService<PartitionMapManager>();
        var (victimAddress, partition, key) = await LedByVictimAsync(survivor, victim);

        var options = cluster.ClientOptionsFor([.. cluster.Silos.Select(s => s.GatewayEndPoint), victim.GatewayEndPoint]);
        options.MinReconnectDelay = TimeSpan.FromMilliseconds(100);
        options.MaxReconnectDelay = TimeSpan.FromSeconds(30);
        options.RequestTimeout = Deadline;
        await using var client = await ReplicationClient.ConnectAsync(options);
        var replicator = client.GetReplicator<int>(Component);
        await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(key, 1)], new WriteOptions { Safety = SafetyLevel.Applied });

        await victim.KillAsync();
        var killed = Stopwatch.GetTimestamp();
        var write = replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(key, 2)], new WriteOptions { Safety = SafetyLevel.Applied });
        await Wait.UntilAsync(() => survivor.Current[partition]?.Primary is { } primary && primary != victimAddress, Deadline, $"partition {partition} to fail over");
        var movedAt = Stopwatch.GetElapsedTime(killed);
        var result = await Wait.ForAsync(write, Deadline, "the retried write");
        var doneAt = Stopwatch.GetElapsedTime(killed);

        Assert.True(Assert.Single(result).Version >= 2);
        Assert.True(movedAt >= TimeSpan.FromSeconds(3), $"The failover took only {movedAt.TotalMilliseconds:0} ms: the backoff had not grown yet, so this run proves nothing.");
        Assert.True(doneAt - movedAt < TimeSpan.FromSeconds(1.5), $"The write was acknowledged {(doneAt - movedAt).TotalMilliseconds:0} ms after the partition failed over ({movedAt.TotalMilliseconds:0} ms after the kill): it waited out its backoff instead of following the map.");
    }

    [Fact]
    public async Task PrimaryKilledWithTheWriteInFlight_WriteSentAgainAsSoonAsThePartitionServesNotAtItsAttemptTimeout()
    {
        // Nothing answers a call forwarded to a silo that died: the client finds out by asking
        // the partition's grain how long it has served (StalledAttempts), not at the attempt's 5 s timeout.
        await using var cluster = await ReplicationCluster.StartAsync(2, siloProcesses: 1);
        var victim = cluster.SiloProcesses[0];
        var survivor = cluster.Silos[0].Services.GetRequiredService<PartitionMapManager>();
        var (victimAddress, partition, key) = await LedByVictimAsync(survivor, victim);

        // The client's gateways are the survivors (the test cluster's silos): they forward the write to the victim.
        var options = cluster.ClientOptionsFor();
        options.RequestTimeout = Deadline;
        await using var client = await ReplicationClient.ConnectAsync(options);
        var replicator = client.GetReplicator<int>(Component);
        await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(key, 1)], new WriteOptions { Safety = SafetyLevel.Applied });

        // Frozen, the victim takes the write into its socket and answers nothing; then it dies.
        await victim.PauseAsync();
        var write = replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(key, 2)], new WriteOptions { Safety = SafetyLevel.Applied });
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // the write reaches the frozen victim; it cannot be answered
        Assert.False(write.IsCompleted, "The write was answered by a frozen primary.");
        await victim.KillAsync();
        var killed = Stopwatch.GetTimestamp();
        await Wait.UntilAsync(() => survivor.Current[partition]?.Primary is { } primary && primary != victimAddress, Deadline, $"partition {partition} to fail over");
        var movedAt = Stopwatch.GetElapsedTime(killed);
        var result = await Wait.ForAsync(write, Deadline, "the write in flight at the kill");
        var doneAt = Stopwatch.GetElapsedTime(killed);

        Assert.True(Assert.Single(result).Version >= 2);
        Assert.True(doneAt - movedAt < TimeSpan.FromSeconds(1), $"The write in flight was acknowledged {(doneAt - movedAt).TotalMilliseconds:0} ms after the partition failed over ({movedAt.TotalMilliseconds:0} ms after the kill): it waited for its attempt to time out.");
        Assert.Equal(2, (await replicator.GetStateItemsAsync([key])).Single().Value);
    }

    [Fact]
    public async Task GatewayKilledWithWritesInFlight_WritesSentAgainAtOnceThroughAnotherGateway()
    {
        // Writes to partitions the survivors lead, forwarded by the victim as the client's gateway:
        // the partitions are fine, but the Orleans client does not fail calls sent over a
        // connection that closed. Local safety: nothing waits for the victim as a standby.
        await using var cluster = await ReplicationCluster.StartAsync(2, siloProcesses: 1);
        var victim = cluster.SiloProcesses[0];
        var options = cluster.ClientOptionsFor(cluster.Silos[0].GatewayEndPoint, victim.GatewayEndPoint);
        options.RequestTimeout = Deadline;
        await using var client = await ReplicationClient.ConnectAsync(options);
        var survivor = cluster.Silos[0].Services.GetRequiredService<PartitionMapManager>();
        var victimId = victim.SiloId;
        // Settled first: a partition handed to the victim later would be one of the writes' (and fail over).
        await Wait.UntilAsync(
            async () => (await victim.PartitionsAsync()) is var all && all.Any(p => p.GetProperty("primary").GetString() == victimId)
                && all.GroupBy(p => p.GetProperty("primary").GetString()).All(g => g.Count() <= (all.Count + 2) / 3),
            Deadline,
            "the partitions to be balanced over the three silos");
        var count = survivor.Current.Assignments.Count;
        var keys = Enumerable.Range(0, 10_000).Select(i => "g" + i)
            .Where(k => survivor.Current[PartitionHasher.GetPartition(Component, k, count)]?.Primary?.ToString() != victimId)
            .Take(40)
            .ToList();
        var replicator = client.GetReplicator<int>(Component);
        var local = new WriteOptions { Safety = SafetyLevel.Local };
        await Task.WhenAll(keys.Select(k => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(k, 1)], local)));

        await victim.PauseAsync();
        var writes = keys.Select(k => replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>(k, 2)], local)).ToList();
        await Wait.UntilAsync(() => writes.Count(w => w.IsCompleted) > 0, Deadline, "the writes through the live gateway");
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // what goes through the frozen gateway cannot be answered
        var stuck = writes.Count(w => !w.IsCompleted);
        Assert.True(stuck > 0, "No write went through the victim's gateway: this run proves nothing.");
        await victim.KillAsync();
        var killed = Stopwatch.GetTimestamp();
        await Wait.ForAsync(Task.WhenAll(writes), Deadline, "the writes in flight at the kill");
        var doneAt = Stopwatch.GetElapsedTime(killed);

        // Not the 5 s attempt timeout (4.7 s after the kill without the gateway watch). A retry can
        // still wait for the victim to be declared dead: Orleans' grain directory may have kept the
        // partition grain's entry on the victim, and lookups there fail until then.
        Assert.True(doneAt < TimeSpan.FromSeconds(2.5), $"The {stuck} writes in flight through the killed gateway were acknowledged {doneAt.TotalMilliseconds:0} ms after the kill: they waited for their attempt to time out.");
        Assert.All(await replicator.GetStateItemsAsync(keys.Select(k => new ItemKey(k))), item => Assert.Equal(2, item.Value));
    }

    /// <summary>Waits for the victim to lead a partition with an in-sync standby: its address, the partition, and a key in it.</summary>
    private static async Task<(SiloIncarnation Victim, int Partition, string Key)> LedByVictimAsync(PartitionMapManager survivor, SiloProcess victim)
    {
        var victimId = victim.SiloId;
        bool Covered(System.Text.Json.JsonElement p) => p.GetProperty("primary").GetString() == victimId && PartitionViews.Standbys(p).Any(PartitionViews.InSync);
        await Wait.UntilAsync(async () => (await victim.PartitionsAsync()).Any(Covered), Deadline, "the victim to lead a partition with an in-sync standby");
        var victimAddress = survivor.Current.Assignments.Select(a => a?.Primary).OfType<SiloIncarnation>().First(a => a.ToString() == victimId);
        var partition = (await victim.PartitionsAsync()).First(Covered).GetProperty("id").GetInt32();
        var key = Enumerable.Range(0, 10_000).Select(i => "k" + i).First(k => PartitionHasher.GetPartition(Component, k, survivor.Current.Assignments.Count) == partition);
        return (victimAddress, partition, key);
    }
}