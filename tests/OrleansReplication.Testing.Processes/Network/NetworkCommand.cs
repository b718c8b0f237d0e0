namespace OrleansReplication.Testing.Processes.Network;

/// <summary>Runs <c>ip</c> and <c>nft</c>; a failure names the command line, its exit code and stderr.</summary>
internal static class NetworkCommand
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

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
    public static Task<ToolProcess.Result> TryRunAsync(string tool, IReadOnlyList<string> arguments, string? input = null) =>
        ToolProcess.RunAsync(Find(tool) ?? tool, arguments, Deadline, input: input);
}
