using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// Wake-ups for change-feed listeners: each watcher's signal is set when the Applied watermark
/// (what listeners may read up to) advances, and when the partition stops being served here.
/// </summary>
internal sealed partial class Partition
{
    private readonly Lock _watchersLock = new();

    // Replaced whole under _watchersLock; read lock-free (Volatile) by whoever advances the
    // watermark: it sees a consistent array, at worst one change old (a new watcher reads the log first).
    private AsyncSignal[] _watchers = [];

    /// <summary>
    /// Every change up to here survives this silo's crash: every in-sync standby applied it, or
    /// (with none) the store has it. Listeners read the log only up to here: a change beyond it
    /// may be lost in a failover, and the new primary would give its sequence to another change.
    /// </summary>
    public long AppliedWatermark => _log is null ? 0 : _appliedWaiters.Watermark;

    /// <summary>Registers a signal set when <see cref="AppliedWatermark"/> advances and when the partition stops, is fenced or handed off.</summary>
    public void AddWatcher(AsyncSignal signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        lock (_watchersLock)
        {
            Volatile.Write(ref _watchers, [.. _watchers, signal]);
        }
    }

    /// <summary>Unregisters a signal added by <see cref="AddWatcher(AsyncSignal)"/>.</summary>
    public void RemoveWatcher(AsyncSignal signal)
    {
        lock (_watchersLock)
        {
            Volatile.Write(ref _watchers, _watchers.Where(w => !ReferenceEquals(w, signal)).ToArray());
        }
    }

    /// <summary>Any thread; allocation-free and lock-free here (an array walk and a dropped-when-full channel write each).</summary>
    private void NotifyWatchers()
    {
        foreach (var watcher in Volatile.Read(ref _watchers))
        {
            watcher.Set();
        }
    }
}
