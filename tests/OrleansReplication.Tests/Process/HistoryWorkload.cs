using OrleansReplication.Bench.Measurement.History;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Jepsen's client side on real processes: writers that record every invoke and its outcome (ok,
/// or unknown when it may have been applied), a read of every key at the end, and the check that
/// nothing acknowledged was lost, nothing applied twice and every key is linearizable.
/// </summary>
internal sealed class HistoryWorkload(string component, int keys) : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private readonly List<ReplicationClient> _clients = [];
    private readonly List<Task> _writers = [];
    private readonly CancellationTokenSource _stop = new();
    private long[] _acknowledged = [];

    public HistoryRecorder History { get; } = new();

    /// <summary>Writes acknowledged so far, per writer.</summary>
    public long Acknowledged(int writer) => Volatile.Read(ref _acknowledged[writer]);

    /// <summary>Writes acknowledged so far, by all writers.</summary>
    public long Acknowledged() => _acknowledged.Sum(a => Volatile.Read(ref a));

    /// <summary>Connects one client per writer to every silo's gateway and starts writing unique values at <c>Applied</c>.</summary>
    public async Task StartAsync(IEnumerable<SiloProcess> silos, int writers)
    {
        _acknowledged = new long[writers];
        _clients.AddRange(await ProcessCluster.ConnectClientsAsync(silos, writers, RequestTimeout));

        for (var w = 0; w < writers; w++)
        {
            var (client, writer) = (_clients[w], w);
            _writers.Add(Task.Run(() => WriteAsync(client, writer)));
        }
    }

    /// <summary>Waits until every writer had <paramref name="more"/> writes acknowledged beyond what it has now.</summary>
    public Task WaitForProgressAsync(int more, string after)
    {
        var targets = _acknowledged.Select(a => a + more).ToArray();
        return Wait.UntilAsync(() => targets.Select((t, w) => Acknowledged(w) >= t).All(ok => ok), Deadline, $"every writer to have {more} more writes acknowledged {after}");
    }

    /// <summary>Stops the writers, reads every key written through <paramref name="reader"/> and checks the history.</summary>
    public async Task<HistoryReport> StopAndCheckAsync(SiloProcess reader)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers);
        await using (var client = (await ProcessCluster.ConnectClientsAsync([reader], 1, RequestTimeout))[0])
        {
            var replicator = client.GetReplicator<string>(component);
            foreach (var key in History.Snapshot().Select(o => o.Key).Distinct())
            {
                // Partitions may still be moving (rebalancing after a fault): a read is safe to repeat.
                await Wait.UntilAsync(() => ReadAsync(replicator, key), Deadline, $"a read of {key} after the faults");
            }
        }

        return HistoryChecker.Check(History.Snapshot());
    }

    /// <summary>Asserts the report is clean: the first violations, and the report, otherwise.</summary>
    public static void AssertClean(HistoryReport report, string context)
    {
        Assert.True(report.LostWrites.Count == 0, $"Acknowledged writes lost: {string.Join("; ", report.LostWrites.Take(5).Select(l => $"{l.Write.Key}={l.Write.Value}@{l.Write.Version}, read {l.Read.Value}@{l.Read.Version}"))}. {report}{context}");
        Assert.True(report.DuplicatedEffects.Count == 0, $"Writes applied twice: {report}{context}");
        Assert.True(report.NonLinearizableKeys.Count == 0, $"Not linearizable: {report}{context}");
        Assert.True(report.UnknownKeys.Count == 0, $"Keys never read back: {report}{context}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers);
        await ProcessCluster.DisposeAllAsync(_clients);
        _stop.Dispose();
    }

    private async Task WriteAsync(ReplicationClient client, int writer)
    {
        var replicator = client.GetReplicator<string>(component);
        var random = new Random(writer);
        var key = $"k{random.Next(keys)}";
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var value = $"w{writer}-{n}";
            var id = History.Invoke(writer, key, OperationKind.Write, value);
            try
            {
                var results = await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], new WriteOptions { Safety = SafetyLevel.Applied });
                History.Ok(id, results[0].Version);
                Interlocked.Increment(ref _acknowledged[writer]);
                key = $"k{random.Next(keys)}";
            }
            catch (ReplicationException)
            {
                // Unknown outcome (lost connection, timeout, partition moving): it may have been
                // applied, so the same key is written next (its value is unique either way).
                History.Timeout(id);
            }
        }
    }

    private async Task<bool> ReadAsync(IStateReplicator<string> replicator, string key)
    {
        var id = History.Invoke(100, key, OperationKind.Read);
        try
        {
            var items = await replicator.GetStateItemsAsync([new ItemKey(key)]);
            History.Ok(id, items.Count == 0 ? 0 : items[0].Version, items.Count == 0 ? null : items[0].Value);
            return true;
        }
        catch (ReplicationException)
        {
            History.Timeout(id);
            return false;
        }
    }
}
