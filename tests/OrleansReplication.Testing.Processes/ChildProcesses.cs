using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansReplication.Testing.Processes;

/// <summary>
/// Every child process started through this library (silos, and the benchmark's Redis and
/// Sentinels), so Ctrl+C or SIGTERM of the parent kills them too instead of leaving silos bound
/// to their ports.
/// </summary>
public static class ChildProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();

    static ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
    }

    /// <summary>Kills <paramref name="process"/> with the parent unless it is forgotten first.</summary>
    public static void Track(Process process) => Live[process.Id] = process;

    /// <summary>Stops tracking <paramref name="process"/> (it ended or is disposed).</summary>
    public static void Forget(Process process) => Live.TryRemove(process.Id, out _);

    private static void KillAll()
    {
        foreach (var process in Live.Values)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }
}
