using System.Collections.Concurrent;
using OrleansReplication.Client;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// Issue 4's rolling restart as an application sees it: the .NET client (configured with every
/// silo's gateway, no load balancer in front) keeps writing at <c>applied</c> while each silo in
/// turn gets SIGTERM and is started again. Every request must succeed (drain hands primaries off
/// first; the client follows the map and retries with its request id) and every acknowledged
/// write must read back at its version or later.
/// </summary>
[Collection(SerialClusterCollection.Name)]
public sealed class RollingRestartClientTests : IDisposable
{
    private const int Partitions = 8;
    private const int Keys = 500;
    private const int Workers = 4;
    private const string Component = "rolling";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dataDir = new("or-proc-rolling-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task RollingRestartWithSigterm_DotNetClientWriter_NoFailedRequestAndNoLoss()
    {
        var silos = await BalancedCluster.StartAsync(_dataDir.Path, 3, Partitions);
        var acks = new ConcurrentQueue<(string Key, long Version, string Value)>();
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        List<ReplicationClient> clients = [];
        try
        {
            clients = await ProcessCluster.ConnectClientsAsync(silos.Values, Workers, TimeSpan.FromSeconds(20));
            var workers = clients.Select((client, w) => Task.Run(() => WriteAsync(client, w, acks, failures, stop.Token))).ToList();
            await Wait.UntilAsync(() => acks.Count >= 200, Deadline, "200 acknowledged writes before the first restart");

            foreach (var id in silos.Keys.ToList())
            {
                var silo = silos[id];
                silos.Remove(id);
                var exitCode = await silo.StopAsync();
                Assert.True(exitCode == 0, $"Silo {id} exited with {exitCode} after SIGTERM.{silo.Describe()}");
                await silo.DisposeAsync();

                var restarted = await SiloProcess.StartAsync(_dataDir.Path, silo.Instance, "--partitions", Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture));
                silos[restarted.SiloId] = restarted;
                await BalancedCluster.WaitAsync(silos, Partitions, lagZero: false);
                var target = acks.Count + 100;
                await Wait.UntilAsync(() => acks.Count >= target, Deadline, "100 more acknowledged writes after the restart");
            }

            await stop.CancelAsync();
            await Task.WhenAll(workers);
            Assert.True(failures.IsEmpty, $"{failures.Count} requests failed during the rolling restart:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(10))}{ProcessCluster.Logs(silos)}");

            var lost = await FindLostAsync(clients[0], acks);
            Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes were lost:{Environment.NewLine}{string.Join(Environment.NewLine, lost.Take(20))}");
        }
        finally
        {
            await stop.CancelAsync();
            await ProcessCluster.DisposeAllAsync(clients);
            await ProcessCluster.DisposeAllAsync(silos.Values);
        }
    }

    private static async Task WriteAsync(ReplicationClient client, int worker, ConcurrentQueue<(string, long, string)> acks, ConcurrentQueue<string> failures, CancellationToken token)
    {
        var replicator = client.GetReplicator<string>(Component);
        var random = new Random(worker);
        for (var n = 0; !token.IsCancellationRequested; n++)
        {
            var key = $"k{random.Next(Keys)}";
            var value = $"w{worker}-{n}";
            try
            {
                var results = await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey(key), value)], new WriteOptions { Safety = SafetyLevel.Applied }, token);
                acks.Enqueue((key, results[0].Version, value));
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (ReplicationException ex)
            {
                failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} worker {worker}, {key}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    // Acknowledged at version v, but the key reads below v (or at v with another value).
    private static async Task<List<string>> FindLostAsync(ReplicationClient client, IEnumerable<(string Key, long Version, string Value)> acks)
    {
        var replicator = client.GetReplicator<string>(Component);
        var highest = acks.GroupBy(a => a.Key).Select(g => g.MaxBy(a => a.Version)).ToList();
        var items = await replicator.GetStateItemsAsync([.. highest.Select(a => new ItemKey(a.Key))]);
        var read = items.ToDictionary(i => i.Key.Id);
        var lost = new List<string>();
        foreach (var (key, version, value) in highest)
        {
            if (!read.TryGetValue(key, out var item) || item.Version < version || (item.Version == version && item.Value != value))
            {
                lost.Add($"{key}: acknowledged at version {version} ({value}), reads {(item is null ? "nothing" : $"version {item.Version} ({item.Value})")}");
            }
        }

        return lost;
    }
}
