using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// What the cluster watch tests write and check: rounds over <see cref="Keys"/> keys acknowledged at
/// Applied (a standby that takes over has each), and per-key order of what a watcher saw.
/// </summary>
internal static class ClusterWatchRounds
{
    public const int Keys = 48;

    public static Task WriteRoundAsync(IStateReplicator<int> replicator, int round) =>
        replicator.SetStateItemsAsync(Enumerable.Range(0, Keys).Select(i => KeyValuePair.Create<ItemKey, int>("k" + i, round)), new WriteOptions { Safety = SafetyLevel.Applied });

    public static int PartitionOf(string component, string key) => PartitionHasher.GetPartition(component, key, ReplicationCluster.PartitionCount);

    public static void AssertEveryKeyInOrder(List<(string Key, int Value, string Cursor)> seen, int rounds)
    {
        foreach (var key in seen.GroupBy(s => s.Key))
        {
            Assert.Equal(Enumerable.Range(1, rounds), key.Select(s => s.Value));
        }

        Assert.Equal(Keys, seen.Select(s => s.Key).Distinct().Count());
    }

    /// <summary>Reads an SSE watch into <paramref name="lastSeen"/>, checking per-key order (<see cref="Observe"/>).</summary>
    public static Task ObserveAsync(SseStream stream, Dictionary<string, (int Value, long Version)> lastSeen) => Task.Run(async () =>
    {
        while (await stream.ReadAsync() is { } e)
        {
            lock (lastSeen)
            {
                Observe(lastSeen, e.Data.GetProperty("id").GetString()!, e.Data.GetProperty("value").GetInt32(), e.Data.GetProperty("version").GetInt64());
            }
        }
    });

    /// <summary>
    /// Per key, each change once and in order: versions strictly rise. (A write retried across a
    /// crash may apply twice as two changes, so values may repeat, but never go back.)
    /// </summary>
    public static void Observe(Dictionary<string, (int Value, long Version)> lastSeen, string key, int value, long version)
    {
        if (lastSeen.TryGetValue(key, out var before))
        {
            Assert.True(version > before.Version && value >= before.Value, $"{key}: value {value} at version {version} after value {before.Value} at version {before.Version}: out of order or twice.");
        }

        lastSeen[key] = (value, version);
    }

    /// <summary>
    /// Writes 10 rounds, making the cluster <paramref name="change"/> before round 4; then waits for
    /// the <paramref name="watcher"/> to see every key's last value.
    /// </summary>
    public static async Task ChangeDuringWritesAsync(Func<Task> change, IStateReplicator<int> replicator, Dictionary<string, (int Value, long Version)> lastSeen, Task reader, string watcher)
    {
        for (var round = 1; round <= 10; round++)
        {
            if (round == 4)
            {
                await change();
            }

            await WriteRoundAsync(replicator, round);
        }

        await Wait.UntilAsync(
            () =>
            {
                Assert.False(reader.IsCompleted, $"The watch ended: {reader.Exception?.GetBaseException().Message}");
                lock (lastSeen)
                {
                    return lastSeen.Count == Keys && lastSeen.Values.All(v => v.Value == 10);
                }
            },
            TimeSpan.FromSeconds(60),
            watcher + " to see every key's last acknowledged value");
    }
}
