using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// A real silo process (<c>dotnet OrleansReplication.Silo.dll --instance N --data-dir D</c>), built
/// with the same configuration as the tests, on an instance number whose three ports are free.
/// Its stdout and stderr are captured for failure messages.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    /// <summary>The silo's default ports; the instance number is added to each.</summary>
    public const int BaseSiloPort = 11111;

    /// <summary>The default gateway port.</summary>
    public const int BaseGatewayPort = 30000;

    /// <summary>The default HTTP port.</summary>
    public const int BaseHttpPort = 8080;

    // The silo's validator accepts instances 0..1000; 0 is left to a developer's own silo.
    private const int MaxInstance = 1000;

    // The silo exits with 3 when a port is taken (someone bound it between our check and its start).
    private const int PortInUseExitCode = 3;
    private const int StartAttempts = 3;

    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);
    private static readonly Lazy<(string RepoRoot, string Configuration)> Build = new(FindBuild);

    private readonly Process _process;

    // Appended by the process's output event threads, read by the test thread: guarded by itself.
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();

    private SiloProcess(Process process, int instance, string dataDir, string commandLine)
    {
        _process = process;
        Instance = instance;
        DataDir = dataDir;
        CommandLine = commandLine;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The instance number (added to every default port).</summary>
    public int Instance { get; }

    /// <summary>The silo's data directory.</summary>
    public string DataDir { get; }

    /// <summary>The command line, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>The HTTP port.</summary>
    public int HttpPort => BaseHttpPort + Instance;

    /// <summary>The gateway endpoint.</summary>
    public IPEndPoint GatewayEndPoint => new(IPAddress.Loopback, BaseGatewayPort + Instance);

    /// <summary>An HTTP client whose base address is the silo's HTTP endpoint.</summary>
    public HttpClient Http { get; }

    /// <summary>The process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Whether the process ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code; only valid once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote to stdout so far.</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Everything the process wrote to stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>The repository root (the folder holding OrleansReplication.sln).</summary>
    public static string RepoRoot => Build.Value.RepoRoot;

    /// <summary>The build configuration of the tests (Debug or Release), used for the silo too.</summary>
    public static string Configuration => Build.Value.Configuration;

    /// <summary>The silo executable's assembly.</summary>
    public static string SiloDll => Path.Combine(RepoRoot, "Silo", "bin", Configuration, "net10.0", "OrleansReplication.Silo.dll");

    /// <summary>Starts a silo on a free instance with its store in <paramref name="dataDir"/> and waits until it is ready.</summary>
    /// <param name="dataDir">The data directory; reuse it to restart "the same" silo.</param>
    /// <param name="extraArguments">More command-line options, e.g. <c>--partitions 8</c>.</param>
    public static Task<SiloProcess> StartAsync(string dataDir, params string[] extraArguments) => StartAsync(dataDir, instance: null, extraArguments);

    /// <summary>
    /// Starts a silo on <paramref name="instance"/> (its ports, hence its silo id; null: a free
    /// one) and waits until it is ready. Restarting on the same instance restarts "the same" silo,
    /// as Kubernetes does, so clients configured with its endpoints find it again.
    /// </summary>
    public static async Task<SiloProcess> StartAsync(string dataDir, int? instance, params string[] extraArguments)
    {
        for (var attempt = 1; ; attempt++)
        {
            var silo = Launch(dataDir, instance, extraArguments);
            try
            {
                await silo.WaitUntilReadyAsync();
                return silo;
            }
            catch (InvalidOperationException) when (attempt < StartAttempts && silo.HasExited && silo.ExitCode == PortInUseExitCode)
            {
                await silo.DisposeAsync();
            }
            catch
            {
                await silo.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Starts a silo process without waiting for it to be ready (e.g. to see it refuse bad options).</summary>
    public static SiloProcess Launch(string dataDir, params string[] extraArguments) => Launch(dataDir, null, extraArguments);

    private static SiloProcess Launch(string dataDir, int? fixedInstance, string[] extraArguments)
    {
        var dll = SiloDll;
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The silo is not built: {dll} is missing. Build the solution in {Configuration} (the test project references the Silo project, so `dotnet test` builds it).");
        }

        var instance = fixedInstance ?? FindFreeInstance();
        var start = new ProcessStartInfo
        {
            FileName = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        foreach (var argument in new[] { dll, "--instance", instance.ToString(CultureInfo.InvariantCulture), "--data-dir", dataDir }.Concat(extraArguments))
        {
            start.ArgumentList.Add(argument);
        }

        // The child must not inherit the test host's environment name or URLs.
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        var commandLine = string.Join(' ', start.ArgumentList.Prepend(start.FileName));
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, instance, dataDir, commandLine);
        process.OutputDataReceived += (_, e) => silo.Append(silo._output, e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(silo._error, e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start `{commandLine}`.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Waits for <c>GET /healthz/ready</c> to answer 200; fails at once if the process exits.</summary>
    public async Task WaitUntilReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Silo process exited with code {_process.ExitCode} before it was ready.{Describe()}");
            }

            try
            {
                using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var response = await Http.GetAsync("healthz/ready", probe.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // Not listening yet.
            }

            if (clock.Elapsed > ReadyDeadline)
            {
                throw new TimeoutException($"Silo process was not ready (GET /healthz/ready) within {ReadyDeadline.TotalSeconds:0} s.{Describe()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits for the process to exit by itself; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"Silo process did not exit within {timeout.TotalSeconds:0} s.{Describe()}", ex);
        }

        // The parameterless wait also drains the redirected output, so the buffers are complete.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Kills the process and its children with SIGKILL (a crash: nothing is flushed or closed) and waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }
        }

        await WaitForExitAsync(StopDeadline);
    }

    /// <summary>Pauses the process with SIGSTOP (a frozen VM, a long GC pause): it answers nothing and its sockets stay open.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Resumes a paused process with SIGCONT.</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    /// <summary>Sends SIGTERM (what Kubernetes sends) and waits for a graceful exit; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })
                ?? throw new InvalidOperationException("Could not run `kill`.");
            await kill.WaitForExitAsync();
        }

        return await WaitForExitAsync(StopDeadline);
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { signal, _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("Could not run `kill`.");
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"`kill {signal} {_process.Id}` failed with exit code {kill.ExitCode}.{Describe()}");
        }
    }

    /// <summary>The command line, exit state and captured output, for an assertion message.</summary>
    public string Describe()
    {
        var state = _process.HasExited ? $"exited with {_process.ExitCode}" : "running";
        return $"{Environment.NewLine}`{CommandLine}` ({state}, pid {_process.Id}).{Environment.NewLine}--- stdout ---{Environment.NewLine}{StandardOutput}--- stderr ---{Environment.NewLine}{StandardError}";
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await KillAsync();
            }
        }
        finally
        {
            Http.Dispose();
            _process.Dispose();
        }
    }

    private void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }

    /// <summary>An instance number whose three ports are all free now (random, so parallel tests rarely pick the same).</summary>
    private static int FindFreeInstance()
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var instance = Random.Shared.Next(1, MaxInstance + 1);
            if (FreePorts.IsFree(BaseSiloPort + instance) && FreePorts.IsFree(BaseGatewayPort + instance) && FreePorts.IsFree(BaseHttpPort + instance))
            {
                return instance;
            }
        }

        throw new InvalidOperationException($"Found no silo instance 1..{MaxInstance} whose ports {BaseSiloPort}+N, {BaseGatewayPort}+N and {BaseHttpPort}+N are all free.");
    }

    /// <summary>Walks up from the test assembly to the folder holding OrleansReplication.sln; the configuration is the folder under <c>bin</c>.</summary>
    private static (string RepoRoot, string Configuration) FindBuild()
    {
        var baseDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);

        // .../tests/OrleansReplication.Tests/bin/<Configuration>/net10.0
        var configuration = Path.GetFileName(Path.GetDirectoryName(baseDir)) ?? string.Empty;
        if (configuration.Length == 0 || !string.Equals(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(baseDir))), "bin", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Cannot tell the build configuration from the test assembly folder '{baseDir}'; expected .../bin/<Configuration>/net10.0.");
        }

        for (var dir = new DirectoryInfo(baseDir); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansReplication.sln")))
            {
                return (dir.FullName, configuration);
            }
        }

        throw new InvalidOperationException($"No folder above '{baseDir}' holds OrleansReplication.sln.");
    }
}
