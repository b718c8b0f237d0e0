using System.Diagnostics;

namespace OrleansReplication.Testing.Processes;

/// <summary>Runs a command-line tool to its end with a deadline, capturing its output (the harness' <c>ip</c>, <c>nft</c>, <c>pg_ctl</c>...).</summary>
public static class ToolProcess
{
    /// <summary>How a tool ended.</summary>
    public sealed record Result(string CommandLine, int ExitCode, string Output, string Error)
    {
        /// <inheritdoc />
        public override string ToString() => $"`{CommandLine}` exited with {ExitCode}{(Error.Length > 0 ? ": " + Error.Trim() : string.Empty)}";
    }

    /// <summary>Runs <paramref name="fileName"/>; throws <see cref="TimeoutException"/> (after killing it) when it outlives <paramref name="deadline"/>.</summary>
    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan deadline, string? workingDirectory = null, string? input = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var commandLine = string.Join(' ', start.ArgumentList.Prepend(fileName));
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start `{commandLine}`.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{commandLine}` did not finish within {deadline.TotalSeconds:0} s.");
        }

        return new Result(commandLine, process.ExitCode, await output, await error);
    }
}
