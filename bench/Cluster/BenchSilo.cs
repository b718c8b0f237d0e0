using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansReplication.Bench.Cluster;

/// <summary>
/// One real silo process (<c>dotnet OrleansReplication.Silo.dll --instance N --data-dir D</c>), as
/// the process tests launch it, with its output kept for error messages.
/// </summary>
internal sealed class BenchSilo : IAsyncDisposable
{
    private const int BaseGatewayPort = 30000;
    private const int BaseHttpPort = 8080;
    private const int BaseSiloPort = 11111;
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly System.Text.StringBuilder _log = new();

    private BenchSilo(Process process, int instance, string dataDir, string[] arguments, IReadOnlyDictionary<string, string> environment)
    {
        _process = process;
        Instance = instance;
        DataDir = dataDir;
        Arguments = arguments;
        Environment = environment;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{BaseHttpPort + instance}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Instance { get; }

    public string DataDir { get; }

    public string[] Arguments { get; }

    public IReadOnlyDictionary<string, string> Environment { get; }

    public string Gateway => $"127.0.0.1:{BaseGatewayPort + Instance}";

    public HttpClient Http { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public string? SiloId { get; private set; }

    /// <summary>The folder holding OrleansReplication.sln, above this tool's build.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansReplication.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds OrleansReplication.sln; run the tool from the repository.");
        }
    }

    /// <summary>The silo executable of the same configuration as this tool (the bench project references the Silo project, so it is built with it).</summary>
    public static string SiloDll
    {
        get
        {
            var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/')))!;
            return Path.Combine(RepoRoot, "Silo", "bin", configuration, "net10.0", "OrleansReplication.Silo.dll");
        }
    }

    public static async Task<BenchSilo> StartAsync(string dataDir, string[] arguments, IReadOnlyDictionary<string, string>? environment = null, int? instance = null)
    {
        var silo = Launch(dataDir, arguments, environment ?? new Dictionary<string, string>(), instance ?? FreeInstance());
        try
        {
            await silo.WaitUntilReadyAsync();
            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the same silo again (same instance, data directory and options), e.g. after a SIGTERM.</summary>
    public Task<BenchSilo> RestartAsync() => StartAsync(DataDir, Arguments, Environment, Instance);

    public async Task WaitUntilReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Silo instance {Instance} exited with {_process.ExitCode} before it was ready:\n{Log}");
            }

            try
            {
                using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var response = await Http.GetAsync("healthz/ready", probe.Token);
                if (response.IsSuccessStatusCode)
                {
                    SiloId ??= (await Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString();
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // Not listening yet.
            }

            if (clock.Elapsed > ReadyDeadline)
            {
                throw new TimeoutException($"Silo instance {Instance} was not ready within {ReadyDeadline.TotalSeconds:0} s:\n{Log}");
            }

            await Task.Delay(100);
        }
    }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>SIGKILL: a crash, nothing flushed.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod: the silo drains and exits.</summary>
    public async Task StopAsync(TimeSpan deadline)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
            await kill.WaitForExitAsync();
        }

        try
        {
            await _process.WaitForExitAsync().WaitAsync(deadline);
        }
        catch (TimeoutException)
        {
            await KillAsync();
        }
    }

    /// <summary>The partition rows as this silo sees them (GET /v1/cluster/partitions).</summary>
    public async Task<List<JsonElement>> PartitionsAsync() =>
        [.. (await Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        Http.Dispose();
        ChildProcesses.Forget(_process);
        _process.Dispose();
    }

    private static BenchSilo Launch(string dataDir, string[] arguments, IReadOnlyDictionary<string, string> environment, int instance)
    {
        var dll = SiloDll;
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The silo is not built: {dll} is missing. Build it: dotnet build -c Release OrleansReplication.sln");
        }

        Directory.CreateDirectory(dataDir);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        foreach (var argument in new[] { dll, "--instance", instance.ToString(CultureInfo.InvariantCulture), "--data-dir", dataDir }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        // Benchmarks measure the data path, not console logging.
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var silo = new BenchSilo(process, instance, dataDir, arguments, environment);
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.Start();
        ChildProcesses.Track(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            // Keep the tail only: a long run must not grow the tool's memory.
            if (_log.Length > 64 * 1024)
            {
                _log.Remove(0, 32 * 1024);
            }

            _log.AppendLine(line);
        }
    }

    private static int FreeInstance()
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var instance = Random.Shared.Next(1, 1001);
            if (PortFree(BaseSiloPort + instance) && PortFree(BaseGatewayPort + instance) && PortFree(BaseHttpPort + instance))
            {
                return instance;
            }
        }

        throw new InvalidOperationException("Found no silo instance 1..1000 whose three ports are free.");
    }

    internal static bool PortFree(int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
