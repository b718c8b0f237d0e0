using System.Diagnostics;

namespace OrleansReplication;

/// <summary>
/// When the caller last lost a connection its calls travel on (an Orleans client's connection to a
/// gateway silo). The Orleans client does not fail the calls it sent over a connection that
/// closed: their answers are lost, and they would wait for their timeout. A call unanswered since
/// before a loss is sent again instead (<see cref="StalledAttempts"/>). Thread-safe.
/// </summary>
internal sealed class ConnectionLosses
{
    private long _last;

    /// <summary>Records a lost connection, now.</summary>
    public void Report() => Volatile.Write(ref _last, Stopwatch.GetTimestamp());

    /// <summary>Whether a connection was lost after <paramref name="timestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public bool Since(long timestamp) => Volatile.Read(ref _last) > timestamp;
}
