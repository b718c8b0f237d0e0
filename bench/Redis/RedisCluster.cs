using System.Diagnostics;
using System.Globalization;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench.Redis;

/// <summary>
/// The peer system: <c>redis-server</c> as primary + replica on free loopback ports, optionally
/// watched by three <c>redis-sentinel</c>s (down-after-milliseconds 1000). No persistence (no RDB
/// snapshots, no AOF), each in its own temp folder; everything is killed on dispose.
/// </summary>
internal sealed class RedisCluster : IAsyncDisposable
{
    public const string MasterName = "bench";
    private readonly string _dir = Directory.CreateTempSubdirectory("or-bench-redis-").FullName;
    private readonly List<Process> _processes = [];

    public int PrimaryPort { get; private set; }

    public int ReplicaPort { get; private set; }

    public Process? PrimaryProcess { get; private set; }

    public List<int> SentinelPorts { get; } = [];

    /// <summary>Where redis-server is, or null with how to install it.</summary>
    public static string? FindServer(out string howToInstall)
    {
        howToInstall = "redis-server is not installed; the Redis comparison needs it: sudo apt-get install redis-server redis-sentinel (Debian/Ubuntu).";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':').Append("/usr/bin"))
        {
            var path = Path.Combine(dir, "redis-server");
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    public static async Task<RedisCluster> StartAsync(int sentinels, int replicas = 1)
    {
        var server = FindServer(out var how) ?? throw new InvalidOperationException(how);
        var cluster = new RedisCluster();
        try
        {
            var ports = FreePorts(1 + replicas + sentinels);
            cluster.PrimaryPort = ports[0];
            cluster.ReplicaPort = ports[1];
            cluster.PrimaryProcess = cluster.StartServer(server, ports[0], null);
            foreach (var replica in ports[1..(1 + replicas)])
            {
                cluster.StartServer(server, replica, ports[0]);
                await WaitForAsync(async () => ((string)(await CallOnceAsync(replica, "INFO", "replication"))!).Contains("master_link_status:up", StringComparison.Ordinal), "the Redis replica to sync with its primary");
            }

            foreach (var sentinel in ports[(1 + replicas)..])
            {
                cluster.StartSentinel(server, sentinel, ports[0]);
                cluster.SentinelPorts.Add(sentinel);
            }

            foreach (var sentinel in cluster.SentinelPorts)
            {
                await WaitForAsync(async () => await CallOnceAsync(sentinel, "SENTINEL", "get-master-addr-by-name", MasterName) is object?[] { Length: 2 }, "the sentinels to watch the primary");
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The primary's port as the sentinels report it (changes after a failover).</summary>
    public async Task<int?> AskSentinelsForPrimaryAsync()
    {
        foreach (var sentinel in SentinelPorts)
        {
            try
            {
                if (await CallOnceAsync(sentinel, "SENTINEL", "get-master-addr-by-name", MasterName) is object?[] { Length: 2 } reply)
                {
                    return int.Parse((string)reply[1]!, CultureInfo.InvariantCulture);
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
            {
                // Try the next sentinel.
            }
        }

        return null;
    }

    /// <summary>
    /// Switches the append-only file on (fsync every second, Redis' usual durable setting) or off,
    /// on the primary and the replica, and waits until the rewrite that switching on starts is done.
    /// </summary>
    public async Task SetAppendOnlyAsync(bool on)
    {
        foreach (var port in new[] { PrimaryPort, ReplicaPort })
        {
            await CallOnceAsync(port, "CONFIG", "SET", "appendfsync", "everysec");
            await CallOnceAsync(port, "CONFIG", "SET", "appendonly", on ? "yes" : "no");
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (await CallOnceAsync(port, "INFO", "persistence") is string info
                && (info.Contains("aof_rewrite_in_progress:1", StringComparison.Ordinal) || (on && !info.Contains("aof_enabled:1", StringComparison.Ordinal))))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"Redis on port {port} did not finish switching appendonly {(on ? "on" : "off")} within a minute.");
                }

                await Task.Delay(20);
            }
        }
    }

    public static async Task<object?> CallOnceAsync(int port, params object[] command)
    {
        using var connection = await RespConnection.ConnectAsync(port, TimeSpan.FromSeconds(2));
        return await connection.CallAsync(command);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            ChildProcesses.Forget(process);
            process.Dispose();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }

        return ValueTask.CompletedTask;
    }

    private Process StartServer(string server, int port, int? primaryPort)
    {
        var dir = Path.Combine(_dir, port.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        var arguments = new List<string> { "--port", $"{port}", "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no", "--logfile", Path.Combine(dir, "redis.log") };
        if (primaryPort is { } p)
        {
            arguments.AddRange(["--replicaof", "127.0.0.1", $"{p}"]);
        }

        return Start(server, arguments);
    }

    private void StartSentinel(string server, int port, int primaryPort)
    {
        var dir = Path.Combine(_dir, $"sentinel-{port}");
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "sentinel.conf");
        File.WriteAllText(config, $"""
            port {port}
            bind 127.0.0.1
            dir {dir}
            logfile {Path.Combine(dir, "sentinel.log")}
            sentinel monitor {MasterName} 127.0.0.1 {primaryPort} 2
            sentinel down-after-milliseconds {MasterName} 1000
            sentinel failover-timeout {MasterName} 5000
            sentinel parallel-syncs {MasterName} 1

            """);
        Start(server, [config, "--sentinel"]);
    }

    private Process Start(string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        ChildProcesses.Track(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or RedisErrorException)
            {
                // Not up yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Timed out waiting for {what}.");
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((System.Net.IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
