using System.Text;
using Microsoft.Data.Sqlite;
using OrleansReplication.Silo.AntiEntropy;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Tests.Replication;

namespace OrleansReplication.Tests.AntiEntropy;

/// <summary>The primary compares the store's rows with its warm copy by clumps and rewrites only the rows that differ.</summary>
public sealed class StoreAntiEntropyTests : ReplicationHarness
{
    private const int Items = 1000;

    [Fact]
    public async Task CheckStore_InSync_ComparesEveryRowAndRewritesNothing()
    {
        var (partition, reports) = await StartWithItemsAsync();

        var status = await partition.CheckStoreAsync(default).WaitAsync(Deadline);

        Assert.NotNull(status);
        Assert.Equal((Items, 0, 0), (status.Rows, status.DifferingClumps, status.RowsRepaired));
        Assert.Equal(partition.LastSequence, status.Sequence);
        Assert.Empty(reports);
    }

    [Fact]
    public async Task CheckStore_RowChangedRowLostRowAdded_RewritesExactlyThose()
    {
        var (partition, reports) = await StartWithItemsAsync();
        await ExecuteAsync("UPDATE or_items SET value = x'7b7d' WHERE item_id = 'k10'");
        await ExecuteAsync("DELETE FROM or_items WHERE item_id = 'k20'");
        await ExecuteAsync("INSERT INTO or_items (component, partition_key, item_id, partition_id, version, value) VALUES ('c', '', 'ghost', 0, 7, x'7b7d')");

        var status = await partition.CheckStoreAsync(default).WaitAsync(Deadline);

        Assert.NotNull(status);
        Assert.Equal(3, status.RowsRepaired);
        Assert.InRange(status.DifferingClumps, 1, 3);
        var report = Assert.Single(reports);
        Assert.Equal((AntiEntropyFinding.StoreRepaired, "store", 3), (report.Finding, report.Replica, report.Items));
        await AssertStoreMatchesAsync(partition);
    }

    [Fact]
    public async Task CheckStore_WritesWaitingForTheStore_LeftToWriteBehindAndOnlyTheCorruptRowRewritten()
    {
        var (partition, _) = await StartWithItemsAsync();
        await ExecuteAsync("UPDATE or_items SET value = x'7b7d' WHERE item_id = 'k10'");

        // Changes the store has not got yet: the store's rows of those items are behind, not wrong.
        Store.Close();
        for (var i = 0; i < 50; i++)
        {
            await WriteAsync(partition, SafetyLevel.Local, Set($"k{i * 7}", $"{{\"moved\":{i}}}"), Remove($"k{500 + i}"));
        }

        var status = await partition.CheckStoreAsync(default).WaitAsync(Deadline);

        Assert.NotNull(status);
        Assert.Equal(1, status.RowsRepaired);
        Store.Open();
        await WaitDurableAsync(partition);
        await AssertStoreMatchesAsync(partition);
    }

    [Fact]
    public async Task CheckStore_NothingPersistedInThisEpoch_RepairsUnderTheNewEpoch()
    {
        var (partition, _) = await StartWithItemsAsync();
        await partition.StopAsync();
        var next = await StartPartitionAsync();
        await ExecuteAsync("UPDATE or_items SET value = x'7b7d' WHERE item_id = 'k10'");

        var status = await next.CheckStoreAsync(default).WaitAsync(Deadline);

        Assert.NotNull(status);
        Assert.Equal(1, status.RowsRepaired);
        Assert.Equal(next.Epoch, (await Sqlite.LoadPartitionHeadAsync(next.Id, default)).Epoch);
        await AssertStoreMatchesAsync(next);
        await WriteAsync(next, SafetyLevel.Durable, Set("k1", "1"));
    }

    private async Task<(Partition Partition, List<AntiEntropyReport> Reports)> StartWithItemsAsync()
    {
        var partition = await StartPartitionAsync();
        var reports = new List<AntiEntropyReport>();
        partition.AntiEntropyReported = reports.Add;
        for (var i = 0; i < Items; i += 100)
        {
            await WriteAsync(partition, SafetyLevel.Durable, [.. Enumerable.Range(i, 100).Select(k => Set($"k{k}", $"{{\"n\":{k}}}"))]);
        }

        return (partition, reports);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(SqliteConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private async Task AssertStoreMatchesAsync(Partition partition)
    {
        var stored = (await Sqlite.LoadPartitionAsync(partition.Id, default)).Items
            .Select(i => (new ItemAddress(i.Component, i.PartitionKey, i.Id), i.Version, Encoding.UTF8.GetString(i.Value)))
            .OrderBy(i => i.Item1.Id, StringComparer.Ordinal)
            .ToList();
        Assert.Equal(Contents(partition.Items).OrderBy(i => i.Address.Id, StringComparer.Ordinal).ToList(), stored);
    }
}
