using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansReplication.Examples;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>
/// An Orleans user's grain with a <c>[ReplicatedState]</c> facet (the README's shopping cart),
/// called through plain Orleans grain references while the silo hosting it is SIGKILLed (a real
/// silo process beside two test-cluster silos, RF=2): it answers again on its partition's former
/// standby, from the warm copy, with every acknowledged change and no read of its grain storage;
/// and a call in flight to the killed silo fails fast instead of waiting for Orleans' response timeout.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ReplicatedGrainFailoverTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task UserGrainsSiloKilled_ReactivatedOnFormerStandby_EveryAcknowledgedChangeThere()
    {
        await using var cluster = await ReplicationCluster.StartWithSiloProcessAsync();
        var victim = cluster.SiloProcesses[0];
        var observer = cluster.Silos[0].Services;
        var map = observer.GetRequiredService<PartitionMapManager>().Current;

        // Carts whose partition the process leads, each with the silo that holds its standby.
        var carts = Enumerable.Range(0, 2000)
            .Select(i => cluster.Client.GetGrain<IShoppingCartGrain>("user-" + i))
            .Select(g => (Grain: g, Partition: PartitionHasher.GetGrainPartition(g.GetGrainId().ToString(), ReplicationCluster.PartitionCount)))
            .Where(c => map[c.Partition]?.Primary?.ToString() == victim.SiloId)
            .Take(6)
            .ToList();
        Assert.Equal(6, carts.Count);
        var standbyOf = carts.ToDictionary(c => c.Grain, c => Assert.Single(map[c.Partition]!.Standbys));

        var acked = new ConcurrentDictionary<IShoppingCartGrain, ConcurrentQueue<string>>();
        var failures = new ConcurrentQueue<string>();
        var longestCall = TimeSpan.Zero;
        var ackedAfterKill = 0;
        var killed = false;
        var written = 0;
        List<Task> Write(CancellationToken stop) => [.. carts.Select(c => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sku = $"sku-{Interlocked.Increment(ref written)}";
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    await c.Grain.AddAsync(sku, 1);
                    acked.GetOrAdd(c.Grain, _ => new()).Enqueue(sku);
                    if (Volatile.Read(ref killed))
                    {
                        Interlocked.Increment(ref ackedAfterKill);
                    }
                }
                catch (Exception ex)
                {
                    // What an Orleans caller sees while a silo dies (rejections, the partition moving): it calls again.
                    failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {sku}: {ex.GetType().Name}: {ex.Message}");
                    await Task.Delay(20);
                }
                finally
                {
                    var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                    lock (failures)
                    {
                        longestCall = took > longestCall ? took : longestCall;
                    }
                }
            }
        }))];

        // Writing while the silo is killed: a call in flight to it fails fast, the others land.
        using (var stop = new CancellationTokenSource())
        {
            var writers = Write(stop.Token);
            await Wait.UntilAsync(() => acked.Values.Sum(q => q.Count) >= 120, Deadline, "120 acknowledged cart changes before the kill");
            await victim.KillAsync();
            Volatile.Write(ref killed, true);
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        // A call in flight to the killed silo fails at once (the client's watch on replicated grains),
        // rather than at Orleans' 30 s response timeout.
        Assert.True(longestCall < TimeSpan.FromSeconds(10), $"A cart call took {longestCall.TotalSeconds:0.0} s: a call lost with its silo waited for the response timeout. Failures: {string.Join(" | ", failures.Take(5))}");

        // Each cart answers again, reactivated by a read on its former standby from the warm copy:
        // its grain storage ("store", Orleans' ADO.NET on SQLite, counted on the surviving silos) sees no read.
        var silos = observer.GetRequiredService<MembershipService>().Current.Silos.ToDictionary(s => s.Address, s => s.Silo?.ToString());
        foreach (var (grain, partition) in carts)
        {
            CartView? view = null;
            await Wait.UntilAsync(async () => (view = await grain.GetAsync()) is not null, Deadline, $"{grain.GetPrimaryKeyString()} to answer after its silo was killed");
            AssertHasEveryAcknowledged(grain, partition, view!);
            Assert.Equal(silos[standbyOf[grain]], view!.Silo);
        }

        var storageReads = StorageReadsOf(cluster, carts.Select(c => c.Grain.GetGrainId()));
        Assert.True(storageReads.Count == 0, $"Reactivated from the warm copy, the carts still read their grain storage {storageReads.Count} times: {string.Join(", ", storageReads.Take(6))}.");

        // Writing again, on the new primaries.
        using (var stop = new CancellationTokenSource())
        {
            var writers = Write(stop.Token);
            await Wait.UntilAsync(() => Volatile.Read(ref ackedAfterKill) >= 120, Deadline, $"120 acknowledged cart changes after the kill ({failures.Count} calls failed meanwhile: {string.Join(" | ", failures.TakeLast(3))})");
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        foreach (var (grain, partition) in carts)
        {
            AssertHasEveryAcknowledged(grain, partition, await grain.GetAsync());
        }

        // The first change after a failover refreshes the storage's ETag, once per cart (the new
        // activation never read the row the old primary last wrote behind); nothing more.
        storageReads = StorageReadsOf(cluster, carts.Select(c => c.Grain.GetGrainId()));
        Assert.True(storageReads.Count <= carts.Count, $"After the failover the carts read their grain storage {storageReads.Count} times, more than once each: {string.Join(", ", storageReads.Take(12))}.");

        void AssertHasEveryAcknowledged(IShoppingCartGrain grain, int partition, CartView view)
        {
            var missing = acked.GetOrAdd(grain, _ => new()).Where(sku => !view.Lines.ContainsKey(sku)).ToList();
            Assert.True(missing.Count == 0, $"{grain.GetPrimaryKeyString()} (partition {partition}) lost {missing.Count} acknowledged changes after its silo was killed: {string.Join(", ", missing.Take(10))}.");
        }
    }

    private static List<GrainId> StorageReadsOf(ReplicationCluster cluster, IEnumerable<GrainId> grains)
    {
        var wanted = grains.ToHashSet();
        return [.. cluster.Silos
            .SelectMany(s => ((ReadCountingGrainStorage)s.Services.GetRequiredKeyedService<IGrainStorage>(ReplicationSiloConfigurator.GrainStorage)).Reads)
            .Where(wanted.Contains)];
    }
}
