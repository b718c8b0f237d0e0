using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansReplication.Testing.Processes;

/// <summary>
/// A real silo process (<c>dotnet OrleansReplication.Silo.dll --instance N --data-dir D</c>), built
/// with the same configuration as the caller, on an instance number whose three ports are free.
/// Its stdout and stderr are captured for failure messages.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    // The silo exits with 3 when a port is taken (someone bound it between our check and its start).
    private const int PortInUseExitCode = 3;
    private const int StartAttempts = 3;

    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly OutputTail _output;
    private readonly OutputTail _error;
    private string? _siloId;
    private int _disposed;

    private SiloProcess(Process process, SiloLaunchOptions options, int instance, string commandLine)
    {
        _process = process;
        Options = options;
        Instance = instance;
        CommandLine = commandLine;
        _output = new OutputTail(options.OutputLimit);
        _error = new OutputTail(options.OutputLimit);
        Http = new HttpClient { BaseAddress = new Uri($"http://{Address}:{HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>How this silo was launched (its instance aside, when that was picked free).</summary>
    public SiloLaunchOptions Options { get; }

    /// <summary>The instance number (added to every default port).</summary>
    public int Instance { get; }

    /// <summary>The silo's data directory.</summary>
    public string DataDir => Options.DataDir;

    /// <summary>The command line, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>The address the silo listens on: its network namespace's, or 127.0.0.1.</summary>
    public IPAddress Address => Options.Network?.Address ?? IPAddress.Loopback;

    /// <summary>The HTTP port.</summary>
    public int HttpPort => SiloPorts.BaseHttpPort + Instance;

    /// <summary>The gateway endpoint.</summary>
    public IPEndPoint GatewayEndPoint => new(Address, SiloPorts.BaseGatewayPort + Instance);

    /// <summary>The silo-to-silo endpoint.</summary>
    public IPEndPoint SiloEndPoint => new(Address, SiloPorts.BaseSiloPort + Instance);

    /// <summary>An HTTP client whose base address is the silo's HTTP endpoint.</summary>
    public HttpClient Http { get; }

    /// <summary>The silo's id (<c>GET /v1/cluster</c>), known once it was ready.</summary>
    public string SiloId => _siloId ?? throw new InvalidOperationException($"Silo instance {Instance} has not been ready yet, so its id is unknown.{Describe()}");

    /// <summary>The process id.</summary>
    /// <remarks>Kept from the start: the logs of a schedule name ended (disposed) processes by it.</remarks>
    public int ProcessId { get; private set; }

    /// <summary>Whether the process ended (a disposed one did: it was killed).</summary>
    public bool HasExited => Volatile.Read(ref _disposed) != 0 || _process.HasExited;

    /// <summary>The exit code; only valid once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>What the process wrote to stdout so far (the latest part, with <see cref="SiloLaunchOptions.OutputLimit"/>).</summary>
    public string StandardOutput => _output.ToString();

    /// <summary>What the process wrote to stderr so far (the latest part, with <see cref="SiloLaunchOptions.OutputLimit"/>).</summary>
    public string StandardError => _error.ToString();

    /// <summary>Starts a silo on a free instance with its store in <paramref name="dataDir"/> and waits until it is ready.</summary>
    public static Task<SiloProcess> StartAsync(string dataDir, params string[] extraArguments) => StartAsync(dataDir, instance: null, extraArguments);

    /// <summary>Starts a silo on <paramref name="instance"/> (null: a free one) and waits until it is ready.</summary>
    public static Task<SiloProcess> StartAsync(string dataDir, int? instance, params string[] extraArguments) =>
        StartAsync(new SiloLaunchOptions { DataDir = dataDir, Instance = instance, Arguments = extraArguments });

    /// <summary>Starts a silo as <paramref name="options"/> say and waits until it is ready; a port taken meanwhile is retried.</summary>
    public static async Task<SiloProcess> StartAsync(SiloLaunchOptions options)
    {
        for (var attempt = 1; ; attempt++)
        {
            var silo = Launch(options);
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

    /// <summary>Starts the same silo again (same instance, data directory, options, network namespace), e.g. after a SIGTERM or SIGKILL.</summary>
    public Task<SiloProcess> RestartAsync() => StartAsync(Options with { Instance = Instance });

    /// <summary>Starts a silo process without waiting for it to be ready (e.g. to see it refuse bad options).</summary>
    public static SiloProcess Launch(string dataDir, params string[] extraArguments) => Launch(new SiloLaunchOptions { DataDir = dataDir, Arguments = extraArguments });

    /// <summary>Starts a silo process as <paramref name="options"/> say without waiting for it to be ready.</summary>
    public static SiloProcess Launch(SiloLaunchOptions options)
    {
        var dll = SiloBuild.SiloDll;
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The silo is not built: {dll} is missing. Build the solution in {SiloBuild.Configuration}: dotnet build -c {SiloBuild.Configuration} OrleansReplication.sln");
        }

        Directory.CreateDirectory(options.DataDir);
        var instance = options.Instance ?? SiloPorts.FindFreeInstance();
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo
        {
            // `ip netns exec` enters the namespace and execs dotnet: the pid is the silo's, so signals reach it.
            FileName = options.Network is null ? dotnet : Network.NetworkCommand.Find("ip") ?? "ip",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = options.DataDir,
        };
        string[] namespaceArguments = options.Network is { } network
            ? ["netns", "exec", network.Namespace, dotnet]
            : [];
        string[] addressArguments = options.Network is { } placed
            ? ["--listen-address", placed.Address.ToString(), "--advertised-address", placed.Address.ToString()]
            : [];
        foreach (var argument in namespaceArguments.Concat([dll, "--instance", instance.ToString(CultureInfo.InvariantCulture), "--data-dir", options.DataDir]).Concat(addressArguments).Concat(options.Arguments))
        {
            start.ArgumentList.Add(argument);
        }

        // The child must not inherit the parent's URLs: its ports follow from its instance.
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        foreach (var (name, value) in options.Environment)
        {
            start.Environment[name] = value;
        }

        var commandLine = string.Join(' ', start.ArgumentList.Prepend(start.FileName));
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, options, instance, commandLine);
        process.OutputDataReceived += (_, e) => silo._output.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo._error.Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start `{commandLine}`.");
        }

        silo.ProcessId = process.Id;
        ChildProcesses.Track(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Waits for <c>GET /healthz/ready</c> to answer 200 and learns the silo's id; fails at once if the process exits.</summary>
    public async Task WaitUntilReadyAsync()
    {
        var deadline = Options.ReadyDeadline;
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
                    _siloId ??= (await Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString();
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // Not listening yet.
            }

            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException($"Silo process was not ready (GET /healthz/ready) within {deadline.TotalSeconds:0} s.{Describe()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The partition rows as this silo sees them (<c>GET /v1/cluster/partitions</c>).</summary>
    public Task<List<JsonElement>> PartitionsAsync() => PartitionViews.PartitionsAsync(Http);

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

    /// <summary>Kills the process with SIGKILL (a crash: nothing is flushed or closed) and waits for it to be gone.</summary>
    /// <remarks>
    /// The signal goes at once: the silo is the dotnet host itself (no children), and a tree kill
    /// first walks every process on the machine, which delayed the crash a benchmark times from
    /// its call by up to a few hundred milliseconds.
    /// </remarks>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill();
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

    /// <summary>Sends SIGTERM (what Kubernetes sends) and waits up to <paramref name="deadline"/> (default 30 s) for a graceful exit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? deadline = null)
    {
        if (!_process.HasExited)
        {
            // Not checked: the process may end between the test above and the signal.
            await SendSignalAsync("-TERM");
        }

        return await WaitForExitAsync(deadline ?? StopDeadline);
    }

    private async Task SignalAsync(string signal)
    {
        if (await SendSignalAsync(signal) is var exitCode and not 0)
        {
            throw new InvalidOperationException($"`kill {signal} {_process.Id}` failed with exit code {exitCode}.{Describe()}");
        }
    }

    private async Task<int> SendSignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { signal, _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("Could not run `kill`.");
        await kill.WaitForExitAsync();
        return kill.ExitCode;
    }

    /// <summary>The command line, exit state and captured output, for an error or assertion message.</summary>
    public string Describe()
    {
        var state = Volatile.Read(ref _disposed) != 0 ? "ended" : _process.HasExited ? $"exited with {_process.ExitCode}" : "running";
        return $"{Environment.NewLine}`{CommandLine}` ({state}, pid {ProcessId}).{Environment.NewLine}--- stdout ---{Environment.NewLine}{StandardOutput}--- stderr ---{Environment.NewLine}{StandardError}";
    }

    /// <inheritdoc />
    /// <remarks>Idempotent: a test and the cluster it joined may both dispose it.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

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
            ChildProcesses.Forget(_process);
            _process.Dispose();
        }
    }
}
