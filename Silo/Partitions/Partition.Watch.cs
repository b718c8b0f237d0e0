using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// Wake-ups for change-feed listeners: the commit loop sets each watcher's signal after appending
/// to the log, and the partition sets them when it stops being served here.
/// </summary>
internal sealed partial class Partition
{
    private readonly Lock _watchersLock = new();

    // Replaced whole under _watchersLock; read lock-free (Volatile) by the commit loop once per
    // batch: it sees a consistent array, at worst one batch old (a new watcher reads the log first).
    private AsyncSignal[] _watchers = [];

    /// <summary>Registers a signal set after every batch of changes is appended to the log, and when the partition stops, is fenced or handed off.</summary>
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
