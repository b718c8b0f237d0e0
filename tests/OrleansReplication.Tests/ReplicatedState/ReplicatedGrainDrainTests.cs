using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans;
using OrleansReplication.Examples;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>
/// A graceful move is invisible to an Orleans user's grain: while a silo drains (its partitions
/// handed off to in-sync standbys), plain Orleans calls that write replicated carts never fail,
/// also those that were running on the drained silo as their partition moved (the write goes to
/// the partition's new primary, and the grain follows), and every acknowledged line is there.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class ReplicatedGrainDrainTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SiloDrains_CartWritesRunningThere_NeverFail_NothingLost()
    {
        await using var cluster = await ReplicationCluster.StartAsync(3);
        await cluster.WaitForReplicationToStabilizeAsync();
        var target = cluster.Silos[1];
        var targetId = ReplicationCluster.IdOf(target);
        var targetAddress = target.Handle.SiloAddress.ToString();
        var carts = Enumerable.Range(0, 48).Select(i => cluster.Client.GetGrain<IShoppingCartGrain>("drain-" + i)).ToList();

        var acked = new ConcurrentDictionary<IShoppingCartGrain, ConcurrentQueue<string>>();
        var failures = new ConcurrentQueue<string>();
        var onTarget = 0;
        using var stop = new CancellationTokenSource();
        var writers = carts.Select(cart => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    var view = await cart.AddAsync($"sku-{n}", 1);
                    acked.GetOrAdd(cart, _ => new()).Enqueue($"sku-{n}");
                    if (view.Silo == targetAddress)
                    {
                        Interlocked.Increment(ref onTarget);
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue($"{cart.GetPrimaryKeyString()} sku-{n}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        })).ToList();

        await Wait.UntilAsync(() => Volatile.Read(ref onTarget) >= 50, Deadline, $"50 cart writes served on {targetId} before its drain");
        using (var accepted = await cluster.Silos[0].Http.PostAsync($"v1/cluster/silos/{targetId}/drain", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await Wait.UntilAsync(async () => await cluster.Silos[0].PartitionsLedByAsync(targetId) == 0, Deadline, $"the drained silo {targetId} to lead no partition");
        var after = acked.Values.Sum(q => q.Count) + 200;
        await Wait.UntilAsync(() => acked.Values.Sum(q => q.Count) >= after, Deadline, "200 more cart writes after the drain");
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.True(failures.IsEmpty, $"{failures.Count} cart writes failed while {targetId} drained:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(10))}");
        foreach (var cart in carts)
        {
            var view = await cart.GetAsync();
            var missing = acked.GetOrAdd(cart, _ => new()).Where(sku => !view.Lines.ContainsKey(sku)).ToList();
            Assert.True(missing.Count == 0, $"{cart.GetPrimaryKeyString()} lost {missing.Count} acknowledged lines in the drain: {string.Join(", ", missing.Take(10))}");
        }
    }

}
