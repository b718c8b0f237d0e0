using System.Diagnostics;

namespace OrleansReplication.Testing.Processes;

/// <summary>Condition waits with a deadline: the only way tests and the nemesis wait for something to happen (never bare sleeps).</summary>
public static class Wait
{
    // Short enough that a met condition is seen quickly, long enough not to spin a 2-core CI machine.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Polls <paramref name="condition"/> until it returns true, failing after <paramref name="timeout"/>
    /// with a message naming <paramref name="what"/> was awaited (and the condition's last exception, if any).
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }

                last = null;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                last = ex;
            }

            if (clock.Elapsed >= timeout)
            {
                var because = last is null ? string.Empty : $" The condition last threw {last.GetType().Name}: {last.Message}";
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.{because}", last);
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Polls a synchronous <paramref name="condition"/>; see <see cref="UntilAsync(Func{Task{bool}}, TimeSpan, string)"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), timeout, what);
    }

    /// <summary>Awaits <paramref name="task"/>, failing with a message naming <paramref name="what"/> if it does not finish within <paramref name="timeout"/>.</summary>
    public static async Task<T> ForAsync<T>(Task<T> task, TimeSpan timeout, string what)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.", ex);
        }
    }

    /// <summary>Awaits <paramref name="task"/>, failing with a message naming <paramref name="what"/> if it does not finish within <paramref name="timeout"/>.</summary>
    public static async Task ForAsync(Task task, TimeSpan timeout, string what)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.", ex);
        }
    }
}
