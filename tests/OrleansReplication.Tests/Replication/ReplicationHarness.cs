using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// One partition on a real SQLite store in a temp directory (behind a <see cref="GatedStateStore"/>),
/// with in-process standbys. Every wait has a deadline.
/// </summary>
public abstract class ReplicationHarness : IAsyncLifetime
{
    protected const string Component = "c";
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _dir = Directory.CreateTempSubdirectory("or-repl-").FullName;
    private readonly List<Partition> _started = [];

    internal SqliteStateStore Sqlite { get; private set; } = null!;

    /// <summary>The SQLite store's connection string, for a test that changes rows behind the replication's back.</summary>
    internal string SqliteConnectionString => StateStoreFactory.SqliteConnectionString(_dir);

    internal GatedStateStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Sqlite = new SqliteStateStore(StateStoreFactory.SqliteConnectionString(_dir));
        await Sqlite.InitializeAsync(default);
        Store = new GatedStateStore(Sqlite);
    }

    public async Task DisposeAsync()
    {
        Store.Failing = false;
        Store.Open();
        foreach (var partition in _started)
        {
            await partition.StopAsync().WaitAsync(Deadline);
        }

        await Sqlite.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    internal async Task<Partition> StartPartitionAsync(ReplicationOptions? options = null, int id = 0, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        var partition = new Partition(id, Store, logger ?? NullLogger.Instance, options);
        await partition.LoadAndStartAsync(default);
        _started.Add(partition);
        return partition;
    }

    /// <summary>Adds an in-process standby and waits until it is in sync.</summary>
    internal static async Task<InProcessReplicaLink> AddStandbyAsync(Partition partition, string name, ReplicationOptions? options = null, bool waitInSync = true)
    {
        options ??= new ReplicationOptions();
        var link = new InProcessReplicaLink(new StandbyReplica(partition.Id, options), name, options, NullLogger.Instance);
        partition.AddLink(link);
        if (waitInSync)
        {
            await Wait.UntilAsync(() => link.InSync, Deadline, $"standby {name} to be in sync");
        }

        return link;
    }

    internal static Task<IReadOnlyList<WriteResult>> WriteAsync(Partition partition, SafetyLevel safety, params ItemWriteData[] writes) =>
        partition.CommitAsync(new CommitRequest(Component, writes, safety));

    internal static ItemWriteData Set(string id, string json, Expect expect = default) => new(new ItemKey(id), Encoding.UTF8.GetBytes(json), expect);

    internal static ItemWriteData Remove(string id, Expect expect = default) => new(new ItemKey(id), null, expect);

    internal static ItemAddress Address(string id) => new(Component, string.Empty, id);

    internal static List<(ItemAddress Address, long Version, string Json)> Contents(ItemTable table)
    {
        var items = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        table.CopyTo(items);
        return items
            .Select(i => (i.Key, i.Value.Version, Encoding.UTF8.GetString(i.Value.Json)))
            .OrderBy(i => i.Key.Component, StringComparer.Ordinal)
            .ThenBy(i => i.Key.PartitionKey, StringComparer.Ordinal)
            .ThenBy(i => i.Key.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Waits until the standby reached the primary's last sequence and checks it holds exactly the primary's items.</summary>
    internal static async Task AssertStandbyMatchesAsync(Partition primary, StandbyReplica standby)
    {
        await Wait.UntilAsync(() => standby.AppliedSequence == primary.LastSequence, Deadline, $"the standby (applied {standby.AppliedSequence}) to reach the primary's sequence {primary.LastSequence}");
        Assert.Equal(primary.LastSequence, standby.AppliedSequence);
        Assert.Equal(primary.Epoch, standby.Epoch);
        Assert.Equal(Contents(primary.Items), Contents(standby.Items));
    }

    /// <summary>Waits until the persister holds everything the primary applied.</summary>
    internal static Task WaitDurableAsync(Partition partition) =>
        Wait.UntilAsync(() => partition.DurableSequence == partition.LastSequence, Deadline, $"the durable sequence ({partition.DurableSequence}) to reach {partition.LastSequence}");
}
