using System.Diagnostics;
using System.Text;
using OrleansReplication.Silo.AntiEntropy;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.AntiEntropy;

/// <summary>A primary and an in-process standby compare clump hashes in the stream and repair only the clumps that differ.</summary>
public sealed class ReplicaAntiEntropyTests : ReplicationHarness
{
    private const int Items = 1000;

    // How long a requested check may stay unanswered before it is asked for again (CheckAsync).
    private static readonly TimeSpan ReAskAfter = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Check_StandbyInSync_InSyncAndNothingSent()
    {
        var (partition, link, reports) = await StartWithItemsAsync();

        var status = await CheckAsync(partition, link, ReplicaCheckOutcome.InSync);

        Assert.Equal(partition.LastSequence, status.Sequence);
        Assert.Equal(0, partition.RepairItemsSent);
        Assert.Empty(reports);
    }

    [Fact]
    public async Task Check_OneItemCorruptedOnStandby_RepairsOnlyItsClump()
    {
        var (partition, link, reports) = await StartWithItemsAsync();
        var victim = Address("k123");
        var version = partition.Items.Get(victim)!.Version;
        link.Standby.CorruptForTesting(victim, version, "\"rotten\""u8.ToArray());

        await CheckAsync(partition, link, ReplicaCheckOutcome.Repaired);

        await AssertStandbyMatchesAsync(partition, link.Standby);
        var report = Assert.Single(reports);
        Assert.Equal(AntiEntropyFinding.ReplicaRepaired, report.Finding);
        Assert.Equal(link.Name, report.Replica);
        Assert.Equal([ClumpOf(victim)], report.Clumps);
        Assert.Equal(1, report.Items);

        // Only the victim's clump travelled: every primary item of that clump, nothing else.
        var clumpItems = ItemsInClump(partition, ClumpOf(victim));
        Assert.Equal(clumpItems, partition.RepairItemsSent);
        Assert.InRange(clumpItems, 1, Items / 16);
    }

    [Fact]
    public async Task Check_ItemMissingAndItemExtraOnStandby_BothRepaired()
    {
        var (partition, link, reports) = await StartWithItemsAsync();
        link.Standby.CorruptForTesting(Address("k7"), 0, null);
        link.Standby.CorruptForTesting(Address("ghost"), 999_999, "\"boo\""u8.ToArray());

        await CheckAsync(partition, link, ReplicaCheckOutcome.Repaired);

        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.Null(link.Standby.Items.Get(Address("ghost")));
        Assert.Equal(2, reports.Sum(r => r.Items));
    }

    [Fact]
    public async Task Check_WhileWritesGoOn_ComparesAtOneSequenceAndRepairs()
    {
        var (partition, link, reports) = await StartWithItemsAsync();
        link.Standby.CorruptForTesting(Address("k500"), 1, "\"rotten\""u8.ToArray());
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                await WriteAsync(partition, SafetyLevel.Applied, Set($"w{i++ % 300}", $"{i}"));
            }
        });

        try
        {
            await CheckAsync(partition, link, ReplicaCheckOutcome.Repaired);
        }
        finally
        {
            await stop.CancelAsync();
            await writer.WaitAsync(Deadline);
        }

        await AssertStandbyMatchesAsync(partition, link.Standby);
        Assert.True(link.InSync, "a check or a repair took the standby out of sync");
        Assert.Equal(1, reports.Sum(r => r.Items));
    }

    [Fact]
    public async Task Check_StandbyKeepsDiverging_LeavesTheInSyncSetAndIsResentASnapshot()
    {
        var options = new ReplicationOptions { AntiEntropy = { MaxRepairsInARow = 1 } };
        var (partition, link, reports) = await StartWithItemsAsync(options);
        link.Standby.CorruptForTesting(Address("k1"), 1, "\"rotten\""u8.ToArray());
        await CheckAsync(partition, link, ReplicaCheckOutcome.Repaired);
        var snapshots = link.SnapshotsSent;

        // Diverged again right after a repair: not trusted clump by clump any more.
        link.Standby.CorruptForTesting(Address("k2"), 1, "\"rotten\""u8.ToArray());
        await CheckAsync(partition, link, ReplicaCheckOutcome.Resynced);

        Assert.Contains(reports, r => r.Finding == AntiEntropyFinding.KeepsDiverging && r.InARow == 2);
        await Wait.UntilAsync(() => link.SnapshotsSent > snapshots && link.InSync, Deadline, "the standby to get a snapshot and be in sync again");
        await AssertStandbyMatchesAsync(partition, link.Standby);

        // A clean check afterwards resets the count.
        var status = await CheckAsync(partition, link, ReplicaCheckOutcome.InSync);
        Assert.Equal(0, status.DivergedInARow);
    }

    [Fact]
    public async Task Resync_AtTheSameSequence_NotInSyncUntilTheStandbyInstalledTheSnapshot()
    {
        // No write follows: the snapshot leaves the standby's applied sequence where it was, so only
        // its report of the installed snapshot can tell the primary that the diverged copy is gone.
        var (partition, link, _) = await StartWithItemsAsync();
        link.Standby.CorruptForTesting(Address("k3"), 1, "\"rotten\""u8.ToArray());
        var snapshots = link.SnapshotsSent;
        link.Pause();
        link.Resync("a test");
        await Wait.UntilAsync(() => link.SnapshotsSent > snapshots && link.State == ReplicaLinkState.Streaming, Deadline, "the snapshot to be queued and the link to stream");

        Assert.False(link.InSync, "the standby counted in sync with its diverged copy still in place");
        Assert.Equal("\"rotten\"", System.Text.Encoding.UTF8.GetString(link.Standby.Items.Get(Address("k3"))!.Json));

        link.Resume();
        await Wait.UntilAsync(() => link.InSync, Deadline, "the standby to install the snapshot and be in sync");
        await AssertStandbyMatchesAsync(partition, link.Standby);
    }

    [Fact]
    public async Task Check_AnswerOfAnOlderRound_IgnoredAndTheNewerCompletes()
    {
        var (partition, link, _) = await StartWithItemsAsync();
        link.Pause();
        Assert.True(partition.RequestAntiEntropyCheck());
        Assert.True(partition.RequestAntiEntropyCheck());
        await Wait.UntilAsync(() => link.QueuedRecords == 2, Deadline, "both checks to be queued on the paused standby");

        // The standby answers both (one ack for the run: the later answer); only the newer round counts.
        link.Resume();
        await Wait.UntilAsync(() => partition.ReplicaChecks.ContainsKey(link.Name), Deadline, "the check to complete");
        Assert.Equal(ReplicaCheckOutcome.InSync, partition.ReplicaChecks[link.Name].Outcome);
    }

    [Fact]
    public async Task Check_StandbyCatchingUp_NotSentAndNothingPending()
    {
        var (partition, link, _) = await StartWithItemsAsync();
        link.Resync("a test");

        Assert.True(partition.RequestAntiEntropyCheck());
        await Wait.UntilAsync(() => link.InSync, Deadline, "the standby to be in sync again");

        // The check went to no one (the standby was catching up); the next one completes.
        await CheckAsync(partition, link, ReplicaCheckOutcome.InSync);
    }

    [Fact]
    public async Task CheckNow_CorruptedStandby_AnswersOnceRepaired()
    {
        var (partition, link, _) = await StartWithItemsAsync();
        link.Standby.CorruptForTesting(Address("k9"), 1, "\"rotten\""u8.ToArray());

        var compared = await partition.CheckNowAsync(default).WaitAsync(Deadline);

        Assert.Equal([link.Name], compared);
        Assert.Equal(ReplicaCheckOutcome.Repaired, partition.ReplicaChecks[link.Name].Outcome);
        await AssertStandbyMatchesAsync(partition, link.Standby);
    }

    [Fact]
    public async Task CheckNow_StandbyRemovedBeforeItAnswers_Returns()
    {
        var (partition, link, _) = await StartWithItemsAsync();
        link.Pause();
        var check = partition.CheckNowAsync(default);
        await Wait.UntilAsync(() => link.QueuedRecords == 1, Deadline, "the check to be queued on the paused standby");

        await partition.RemoveLinkAsync(link);

        Assert.Equal([link.Name], await check.WaitAsync(Deadline));
        Assert.False(partition.ReplicaChecks.ContainsKey(link.Name));
    }

    [Fact]
    public async Task CheckNow_PartitionStopsBeforeTheAnswer_FailsUnavailable()
    {
        var (partition, link, _) = await StartWithItemsAsync();
        link.Pause();
        var check = partition.CheckNowAsync(default);
        await Wait.UntilAsync(() => link.QueuedRecords == 1, Deadline, "the check to be queued on the paused standby");

        await partition.StopAsync().WaitAsync(Deadline);

        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => check.WaitAsync(Deadline));
    }

    [Fact]
    public async Task CheckNow_AntiEntropyOff_TypedErrorSaysHowToTurnItOn()
    {
        var partition = await StartPartitionAsync(new ReplicationOptions { AntiEntropy = { Clumps = 0 } });

        var off = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => partition.CheckNowAsync(default));

        Assert.Contains("Replication:AntiEntropy:Clumps", off.Message, StringComparison.Ordinal);
        Assert.False(partition.RequestAntiEntropyCheck());
        Assert.Null(partition.Items.Digest);
    }

    [Theory]
    [InlineData(-1, 30_000, 3, "Replication:AntiEntropy:Clumps")]
    [InlineData(64, 1, 3, "Replication:AntiEntropy:CheckInterval")]
    [InlineData(64, 30_000, 0, "Replication:AntiEntropy:MaxRepairsInARow")]
    public void Options_Invalid_FailureNamesTheSetting(int clumps, int checkMs, int maxRepairs, string setting)
    {
        var options = new ReplicationOptions { AntiEntropy = { Clumps = clumps, CheckInterval = TimeSpan.FromMilliseconds(checkMs), MaxRepairsInARow = maxRepairs } };

        var result = new ReplicationOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(setting, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckNow_PartitionNeverWritten_StandbyInSync()
    {
        var partition = await StartPartitionAsync();
        var link = await AddStandbyAsync(partition, "standby-1");

        Assert.Equal([link.Name], await partition.CheckNowAsync(default).WaitAsync(Deadline));

        Assert.Equal(ReplicaCheckOutcome.InSync, partition.ReplicaChecks[link.Name].Outcome);
    }

    [Fact]
    public void StandbyCheck_NotAtTheChecksSequence_AnswersSkippedAndChangesNothing()
    {
        var standby = new StandbyReplica(0);
        standby.Apply(new ReplicationBatch { Partition = 0, Epoch = 1, Changes = [new ReplicatedChange { Component = Component, PartitionKey = string.Empty, Id = "a", Sequence = 1, Value = "1"u8.ToArray() }] });
        var root = standby.Items.Digest!.Root;

        standby.Apply(new ReplicationBatch { Partition = 0, Epoch = 1, Check = new DigestCheck { Round = 7, Sequence = 5, Clumps = 64, Root = 42 } });
        var answer = standby.CreateAck(refused: false).Digest;

        Assert.NotNull(answer);
        Assert.Equal((7L, 1L, true, false), (answer.Round, answer.Sequence, answer.Skipped, answer.Matched));
        Assert.Equal(root, standby.Items.Digest.Root);
        Assert.Null(standby.CreateAck(refused: false).Digest); // answered once
    }

    [Fact]
    public void Digest_SameItemsInAnyOrder_SameClumps()
    {
        var table = new ItemTable(64);
        var other = new ItemTable(64);
        var items = Enumerable.Range(0, 200).Select(i => KeyValuePair.Create(Address($"k{i}"), new PendingEntry(i + 1, Encoding.UTF8.GetBytes($"{i}")))).ToList();
        table.Apply(items);
        foreach (var item in Enumerable.Reverse(items))
        {
            other.Apply([item]);
        }

        other.Apply([KeyValuePair.Create(Address("k5"), new PendingEntry(0, null))]);
        other.Apply([items[5]]);

        Assert.Equal(table.Digest!.Clumps.ToArray(), other.Digest!.Clumps.ToArray());
        Assert.Equal(table.Digest.Root, other.Digest.Root);
        other.Apply([KeyValuePair.Create(Address("k5"), new PendingEntry(6, "\"5\""u8.ToArray()))]);
        Assert.Equal([ClumpDigest.ClumpOf(ClumpDigest.AddressHash(Address("k5")), 64)], ClumpDigest.Differing(table.Digest.Clumps, other.Digest.Clumps));
    }

    private async Task<(Partition Partition, InProcessReplicaLink Link, List<AntiEntropyReport> Reports)> StartWithItemsAsync(ReplicationOptions? options = null)
    {
        options ??= new ReplicationOptions();
        var partition = await StartPartitionAsync(options);
        var reports = new List<AntiEntropyReport>();
        partition.AntiEntropyReported = r =>
        {
            lock (reports)
            {
                reports.Add(r);
            }
        };
        var link = await AddStandbyAsync(partition, "standby-1", options);
        for (var i = 0; i < Items; i += 100)
        {
            await WriteAsync(partition, SafetyLevel.Applied, [.. Enumerable.Range(i, 100).Select(k => Set($"k{k}", $"{{\"n\":{k}}}"))]);
        }

        return (partition, link, reports);
    }

    /// <summary>Asks for a check and waits for one that ends (after any repair) with <paramref name="outcome"/>.</summary>
    private static async Task<ReplicaCheckStatus> CheckAsync(Partition partition, IReplicaLink link, ReplicaCheckOutcome outcome)
    {
        var before = partition.ReplicaChecks.GetValueOrDefault(link.Name);
        var asked = long.MinValue;
        await Wait.UntilAsync(
            () =>
            {
                var last = partition.ReplicaChecks.GetValueOrDefault(link.Name);
                if (last is not null && !ReferenceEquals(last, before))
                {
                    return last.Outcome == outcome;
                }

                // A check skips a standby that is not streaming at that moment (one that fell out of
                // sync under load, e.g. in a full test run); the scheduler asks again each round,
                // and so does this, while no check of it has ended.
                if (asked == long.MinValue || Stopwatch.GetElapsedTime(asked) >= ReAskAfter)
                {
                    Assert.True(partition.RequestAntiEntropyCheck());
                    asked = Stopwatch.GetTimestamp();
                }

                return false;
            },
            Deadline,
            $"a check of {link.Name} to end {outcome} (last: {partition.ReplicaChecks.GetValueOrDefault(link.Name)})");
        return partition.ReplicaChecks[link.Name];
    }

    private static int ClumpOf(ItemAddress address) => ClumpDigest.ClumpOf(ClumpDigest.AddressHash(address), new ReplicationOptions().AntiEntropy.Clumps);

    private static int ItemsInClump(Partition partition, int clump)
    {
        var items = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        partition.Items.CollectClumps(new HashSet<int> { clump }, items);
        return items.Count;
    }
}
