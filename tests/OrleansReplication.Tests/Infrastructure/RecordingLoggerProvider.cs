using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>Keeps every log entry a silo writes (category, level, message, exception), for tests that check what an operator would read.</summary>
/// <param name="minimum">The lowest level kept (test cluster silos keep only their errors).</param>
public sealed class RecordingLoggerProvider(LogLevel minimum = LogLevel.Trace) : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    /// <summary>Everything logged so far, in order.</summary>
    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Recorder(categoryName, _entries, minimum);

    public void Dispose()
    {
    }

    /// <summary>One log entry.</summary>
    public sealed record LogEntry(string Category, LogLevel Level, string Message, Exception? Exception);

    private sealed class Recorder(string category, ConcurrentQueue<LogEntry> entries, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                entries.Enqueue(new LogEntry(category, logLevel, formatter(state, exception), exception));
            }
        }
    }
}
