using OrleansReplication.Bench.Cluster;

namespace OrleansReplication.Bench.Workloads;

/// <summary>Fills a component with many items through one silo that leads every partition (a batch must not span primaries).</summary>
internal static class Loading
{
    public static async Task LoadAsync(SiloCluster cluster, string component, int items, SafetyLevel safety)
    {
        await using var client = await cluster.ConnectAsync(TimeSpan.FromMinutes(2));
        var replicator = client.GetReplicator<byte[]>(component);
        var value = new byte[256];
        new Random(5).NextBytes(value);
        const int Batch = 1000;
        var next = 0;
        var loaders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var start = Interlocked.Add(ref next, Batch) - Batch;
                if (start >= items)
                {
                    return;
                }

                var batch = Enumerable.Range(start, Math.Min(Batch, items - start)).Select(i => KeyValuePair.Create(new ItemKey($"item:{i}"), value)).ToList();
                await replicator.SetStateItemsAsync(batch, new WriteOptions { Safety = safety });
            }
        })).ToArray();
        await Task.WhenAll(loaders);
    }
}
