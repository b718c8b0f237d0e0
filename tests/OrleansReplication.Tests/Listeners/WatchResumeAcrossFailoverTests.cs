using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A watcher that resumes from its cursor after a primary crashed sees every change since the
/// cursor exactly once, removals included: the promoted standby's log continues the history its
/// standby copy applied. The primary is a real silo process, killed with SIGKILL.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class WatchResumeAcrossFailoverTests
{
    private const int Keys = ClusterWatchRounds.Keys;
    private static readonly TimeSpan Stabilize = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Sse_ResumeFromCursorAfterPrimaryKilled_SeesEverySetAndRemovalOnceInPerKeyOrder()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        var component = cluster.ComponentWithKeyLedBy("resume-kill", "k0", victim.SiloId);
        var replicator = cluster.Client.GetReplicator<int>(component);
        var applied = new WriteOptions { Safety = SafetyLevel.Applied };
        var keys = Enumerable.Range(0, Keys).Select(i => "k" + i).ToList();
        await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, int>(k, 0)), applied);

        var watched = cluster.Silos[0];
        var onVictim = keys.Where(k => cluster.PrimaryOf(ClusterWatchRounds.PartitionOf(component, k)) == victim.SiloId).ToList();

        string cursor;
        await using (var stream = await SseStream.OpenAsync(watched.Http, $"v1/components/{component}/watch"))
        {
            SseEvent e;
            while ((e = await stream.ReadAsync() ?? throw new InvalidOperationException("The watch ended in its snapshot.")).Type != "snapshot-end")
            {
            }

            cursor = e.Id ?? throw new InvalidOperationException("snapshot-end carried no cursor.");
        }

        // After the cursor: every key set, the even ones removed, k0 created again; acknowledged at
        // Applied (the standbys have them, the store may not), then the primary of k0 crashes.
        var even = keys.Where((_, i) => i % 2 == 0).ToList();
        await replicator.SetStateItemsAsync(keys.Select(k => KeyValuePair.Create<ItemKey, int>(k, 1)), applied);
        await replicator.RemoveStateItemsAsync(even.Select(k => new ItemKey(k)), applied);
        await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("k0", 2), KeyValuePair.Create<ItemKey, int>("k1", 2)], applied);
        var expected = keys.ToDictionary(k => k, k => new List<string> { "set 1" });
        even.ForEach(k => expected[k].Add("remove"));
        expected["k0"].Add("set 2");
        expected["k1"].Add("set 2");
        await victim.KillAsync();
        await cluster.WaitForReplicationToStabilizeAsync(Stabilize);

        var seen = keys.ToDictionary(k => k, _ => new List<string>());
        var count = 0;
        await using (var stream = await SseStream.OpenAsync(watched.Http, $"v1/components/{component}/watch?cursor={Uri.EscapeDataString(cursor)}"))
        {
            try
            {
                while (count < expected.Values.Sum(v => v.Count))
                {
                    var e = await stream.ReadAsync() ?? throw new InvalidOperationException("The resumed watch ended early.");
                    Assert.True(e.Type is "set" or "remove", $"The resumed watch sent a '{e.Type}' event: it restarted from a snapshot instead of resuming.");
                    seen[e.Data.GetProperty("id").GetString()!].Add(e.Type == "set" ? "set " + e.Data.GetProperty("value").GetInt32() : "remove");
                    count++;
                }
            }
            catch (TimeoutException)
            {
                // Changes are missing: the per-key comparison below names them.
            }

            AssertPerKey(keys, expected, seen, onVictim);

            // Nothing more before a later change: none was sent twice.
            await replicator.SetStateItemsAsync([KeyValuePair.Create<ItemKey, int>("after", 1)], applied);
            var next = await stream.ReadAsync() ?? throw new InvalidOperationException("The resumed watch ended early.");
            Assert.Equal(("set", "after"), (next.Type, next.Data.GetProperty("id").GetString()));
        }

        Assert.Contains("k0", onVictim); // a removal on the killed primary is among them
    }

    private static void AssertPerKey(List<string> keys, Dictionary<string, List<string>> expected, Dictionary<string, List<string>> seen, List<string> onVictim)
    {
        foreach (var key in keys)
        {
            Assert.True(expected[key].SequenceEqual(seen[key]), $"{key} (primary {(onVictim.Contains(key) ? "killed" : "alive")}): expected [{string.Join(", ", expected[key])}], the resumed watch sent [{string.Join(", ", seen[key])}].");
        }
    }
}
