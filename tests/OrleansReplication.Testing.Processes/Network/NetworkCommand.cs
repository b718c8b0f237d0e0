using System.Diagnostics;

namespace OrleansReplication.Testing.Processes.Network;

/// <summary>Runs <c>ip</c> and <c>nft</c>; a failure names the command line, its exit code and stderr.</summary>
internal static class NetworkCommand
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public sealed record Result(string CommandLine, int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"`{CommandLine}` exited with {ExitCode}{(Error.Length > 0 ? ": " + Error.Trim() : string.Empty)}";
    }

    /// <summary>Fails unless this process is root and <c>ip</c> and <c>nft</c> are installed.</summary>
    public static void EnsureAvailable()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException($"Network namespaces need root: this process runs as '{Environment.UserName}'. Run the tests as root (CI does).");
        }

        foreach (var (tool, package) in new[] { ("ip", "iproute2"), ("nft", "nftables") })
        {
            if (Find(tool) is null)
            {
                throw new InvalidOperationException($"`{tool}` is not installed (searched PATH, /usr/sbin, /sbin): install it with `apt-get install {package}` (.ci/run does).");
            }
        }
    }

    /// <summary>The full path of <paramref name="tool"/>, or null; sbin is searched too, as a non-login PATH may lack it.</summary>
    public static string? Find(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    /// <summary>Runs <paramref name="tool"/> and throws unless it exits with 0.</summary>
    public static async Task<string> RunAsync(string tool, IReadOnlyList<string> arguments, string? input = null)
    {
        var result = await TryRunAsync(tool, arguments, input);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{result}{(input is null ? string.Empty : $"{Environment.NewLine}Its input:{Environment.NewLine}{input}")}");
        }

        return result.Output;
    }

    /// <summary>Runs <paramref name="tool"/> and returns how it ended (for commands whose failure is an answer).</summary>
    public static async Task<Result> TryRunAsync(string tool, IReadOnlyList<string> arguments, string? input = null)
    {
        var start = new ProcessStartInfo(Find(tool) ?? tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var commandLine = string.Join(' ', start.ArgumentList.Prepend(tool));
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start `{commandLine}`.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        using var timeout = new CancellationTokenSource(Deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{commandLine}` did not finish within {Deadline.TotalSeconds:0} s.");
        }

        return new Result(commandLine, process.ExitCode, await output, await error);
    }
}
