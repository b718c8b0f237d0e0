using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>A standby's warm copy becomes the primary while the store lags behind acknowledged writes.</summary>
public sealed class PromotionTests : ReplicationHarness
{
    [Fact]
    public async Task StartFromWarmCopy_StoreBehindAckedWrites_LosesNothingAndFencesOldPrimary()
    {
        var primary = await StartPartitionAsync();
        var link = await AddStandbyAsync(primary, "standby");
        Store.Close(); // the old primary's persister cannot reach the store: acks at Applied come from the standby alone

        var acked = new Dictionary<string, long>();
        for (var i = 0; i < 50; i++)
        {
            var result = await WriteAsync(primary, SafetyLevel.Applied, Set("k" + i, $"{{\"n\":{i}}}")).WaitAsync(Deadline);
            acked["k" + i] = result[0].Version;
        }

        Assert.Empty((await Sqlite.LoadPartitionAsync(0, default)).Items);

        // The old primary is now "dead" (never stopped); its standby takes over at the next epoch.
        var copy = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        link.Standby.Items.CopyTo(copy);
        var promoted = new Partition(0, Sqlite, NullLogger.Instance);
        try
        {
            await promoted.StartFromWarmCopyAsync(new WarmCopy(copy, link.Standby.AppliedSequence, link.Standby.Epoch, link.Standby.Requests), primary.Epoch + 1, default);

            foreach (var (id, version) in acked)
            {
                Assert.Equal(version, promoted.Items.Get(Address(id))?.Version);
            }

            var stored = await Sqlite.LoadPartitionAsync(0, default);
            Assert.Equal(50, stored.Items.Count);
            Assert.Equal(primary.Epoch + 1, stored.Epoch);

            var next = await WriteAsync(promoted, SafetyLevel.Durable, Set("after", "1")).WaitAsync(Deadline);
            Assert.True(next[0].Version > acked.Values.Max(), "The promoted primary reused a version.");

            // The old primary wakes up: its pending persist is fenced, it stops serving.
            Store.Open();
            await Wait.UntilAsync(() => Task.FromResult(primary.Status == PartitionStatus.Fenced), Deadline, "the deposed primary to be fenced by the store");
            await Assert.ThrowsAsync<ReplicaUnavailableException>(() => WriteAsync(primary, SafetyLevel.Local, Set("late", "1")));
        }
        finally
        {
            await promoted.StopAsync().WaitAsync(Deadline);
        }
    }
}
