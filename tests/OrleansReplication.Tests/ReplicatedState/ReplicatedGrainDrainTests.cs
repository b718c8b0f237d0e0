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
        var ledBefore = await cluster.Silos[0].PartitionsLedByAsync(targetId);
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
        // No silo died: the partitions the drained silo led were handed off, so a client never
        // takes a slow call that ran there for one lost with its silo.
        var answers = new TimeSpan?[ReplicationCluster.PartitionCount];
        await Wait.UntilAsync(
            async () =>
            {
                for (var p = 0; p < answers.Length; p++)
                {
                    try
                    {
                        answers[p] ??= await cluster.Client.GetGrain<IPartitionGrain>(p).GetServingForAsync();
                    }
                    catch (PartitionMovedException)
                    {
                        // Its grain was still on the old primary: asked again.
                    }
                }

                return answers.All(a => a is not null);
            },
            Deadline,
            "every partition's grain to answer on its primary");
        var servingFor = answers.Select(a => a!.Value).ToList();
        Assert.True(servingFor.Count(t => t == TimeSpan.MaxValue) >= ledBefore, $"{ledBefore} partitions were handed off, yet only {servingFor.Count(t => t == TimeSpan.MaxValue)} say their previous primary lives: {string.Join(", ", servingFor)}");

        foreach (var cart in carts)
        {
            var view = await cart.GetAsync();
            var missing = acked.GetOrAdd(cart, _ => new()).Where(sku => !view.Lines.ContainsKey(sku)).ToList();
            Assert.True(missing.Count == 0, $"{cart.GetPrimaryKeyString()} lost {missing.Count} acknowledged lines in the drain: {string.Join(", ", missing.Take(10))}");
        }
    }

}
