using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Replication;

/// <summary>One applied change as the primary retains it: an entry in the log's ring, never a separate object.</summary>
/// <param name="Address">The item.</param>
/// <param name="Sequence">The partition's sequence number of the change; the item's new version.</param>
/// <param name="PreviousVersion">The item's version before the change (0 when it did not exist); the store's expected version when this is the first change of the item in a flush.</param>
/// <param name="Value">The new JSON, or <see langword="null"/> for a removal.</param>
/// <param name="Request">On the last change of a request that carried an idempotency id: the request as recorded; it travels and persists with the change.</param>
internal readonly record struct LogEntry(ItemAddress Address, long Sequence, long PreviousVersion, byte[]? Value, RecordedRequest? Request = null)
{
    // Fixed cost of a retained change beyond its JSON: the ring slot, the key strings' headers.
    private const int Overhead = 96;

    /// <summary>What the entry keeps alive, roughly: the JSON, the key strings (UTF-16) and a fixed overhead.</summary>
    public int ApproximateBytes => (Value?.Length ?? 0) + ((Address.Component.Length + Address.PartitionKey.Length + Address.Id.Length) * 2) + Overhead + (Request?.ApproximateBytes ?? 0);
}

/// <summary>
/// The primary's log of one partition's recent changes, addressable by sequence number: the
/// source of the write-behind persister and of standbys that catch up. A ring of
/// <see cref="LogEntry"/> structs: appending allocates nothing but the occasional ring growth.
/// </summary>
/// <remarks>
/// Retention: a persisted change is evicted once the log holds more than
/// <see cref="ReplicationOptions.LogRetainedChanges"/> changes or <see cref="ReplicationOptions.LogRetainedBytes"/>
/// bytes; a change not yet persisted is never evicted (the commit loop bounds those separately,
/// by back-pressure). A <see cref="Pin"/> (a snapshot transfer in progress) holds changes from
/// its sequence on, up to <see cref="PinnedRetentionFactor"/> times the bounds; past that the pin
/// loses and its holder takes a fresh snapshot. Thread-safe: one short lock per call, never held
/// across an await.
/// </remarks>
internal sealed class ReplicationLog
{
    /// <summary>
    /// How far past the retention bounds a pin may hold the log. A snapshot transfer takes about as
    /// long as sending the partition once; four times the retained changes gives it room under a
    /// heavy write load, and still bounds memory.
    /// </summary>
    public const int PinnedRetentionFactor = 4;

    private const int InitialCapacity = 1024;

    private readonly Lock _lock = new();
    private readonly List<Pin> _pins = [];
    private readonly int _maxChanges;
    private readonly long _maxBytes;

    // All guarded by _lock. _ring[_head] holds _firstSequence; the slots hold cumulative byte
    // counts, so the bytes of any range are one subtraction.
    private Slot[] _ring;
    private int _head;
    private int _count;
    private long _firstSequence;
    private long _evictedBytes;
    private long _totalBytes;
    private long _durableEndBytes;

    // Written under _lock, read lock-free by the commit loop, the persister, links and diagnostics:
    // each is a single 64-bit value that only grows, so a stale read only delays a decision.
    private long _lastSequence;
    private long _durableSequence;

    /// <summary>Creates an empty log whose next change will be <paramref name="lastSequence"/> + 1; everything up to it is persisted.</summary>
    public ReplicationLog(long lastSequence, ReplicationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxChanges = options.LogRetainedChanges;
        _maxBytes = options.LogRetainedBytes;
        _ring = new Slot[Math.Min(InitialCapacity, Math.Max(16, _maxChanges))];
        _firstSequence = lastSequence + 1;
        StartSequence = lastSequence + 1;
        _lastSequence = lastSequence;
        _durableSequence = lastSequence;
    }

    /// <summary>
    /// A log that continues <paramref name="tail"/> (a standby's retained changes, contiguous, the
    /// last one at <paramref name="lastSequence"/>): a promoted standby keeps the history its
    /// standby copy saw from <paramref name="startSequence"/> on, so a listener positioned before
    /// the promotion resumes exactly. Everything up to <paramref name="lastSequence"/> is persisted.
    /// </summary>
    public ReplicationLog(long startSequence, ReadOnlySpan<LogEntry> tail, long lastSequence, ReplicationOptions options)
        : this(tail.IsEmpty ? lastSequence : tail[0].Sequence - 1, options)
    {
        var end = tail.IsEmpty ? startSequence - 1 : tail[^1].Sequence;
        if (end != lastSequence)
        {
            throw new ArgumentException($"A log tail must end at sequence {lastSequence}; this one ends at {end}.", nameof(tail));
        }

        StartSequence = Math.Min(startSequence, _firstSequence);
        Append(tail);
        MarkDurable(lastSequence);
    }

    /// <summary>
    /// The first sequence this log was ever to hold: changes before it happened before the partition
    /// started here (loaded or promoted), so they were never in this log rather than evicted.
    /// </summary>
    public long StartSequence { get; }

    /// <summary>The oldest retained sequence number; <see cref="LastSequence"/> + 1 when the log is empty.</summary>
    public long FirstSequence
    {
        get
        {
            lock (_lock)
            {
                return _firstSequence;
            }
        }
    }

    /// <summary>The newest sequence number appended.</summary>
    public long LastSequence => Volatile.Read(ref _lastSequence);

    /// <summary>Everything up to here is persisted in the store.</summary>
    public long DurableSequence => Volatile.Read(ref _durableSequence);

    /// <summary>How many changes the log holds.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Approximate bytes the log holds.</summary>
    public long RetainedBytes
    {
        get
        {
            lock (_lock)
            {
                return _totalBytes - _evictedBytes;
            }
        }
    }

    /// <summary>How many appended changes the store does not have yet.</summary>
    public long UnpersistedChanges => LastSequence - DurableSequence;

    /// <summary>Approximate bytes of the changes the store does not have yet.</summary>
    public long UnpersistedBytes
    {
        get
        {
            lock (_lock)
            {
                return _totalBytes - _durableEndBytes;
            }
        }
    }

    /// <summary>Appends changes with contiguous sequence numbers following <see cref="LastSequence"/>. Commit loop only.</summary>
    public void Append(ReadOnlySpan<LogEntry> entries)
    {
        if (entries.IsEmpty)
        {
            return;
        }

        lock (_lock)
        {
            var expected = _lastSequence + 1;
            if (entries[0].Sequence != expected)
            {
                throw new InvalidOperationException($"The log expected sequence {expected} next but was given {entries[0].Sequence}; the commit loop numbered changes out of order.");
            }

            foreach (var entry in entries)
            {
                if (entry.Sequence != expected++)
                {
                    throw new InvalidOperationException($"The log was given sequence {entry.Sequence} where {expected - 1} was due; changes must be contiguous.");
                }

                if (_count == _ring.Length)
                {
                    Grow();
                }

                _totalBytes += entry.ApproximateBytes;
                _ring[(_head + _count) % _ring.Length] = new Slot(entry, _totalBytes);
                _count++;
            }

            Volatile.Write(ref _lastSequence, expected - 1);
            TrimLocked();
        }
    }

    /// <summary>
    /// Copies changes from <paramref name="fromSequence"/> on into <paramref name="into"/>, at most
    /// <paramref name="maxCount"/> and, past the first, at most <paramref name="maxBytes"/> bytes.
    /// Returns <see langword="false"/> when <paramref name="fromSequence"/> was already evicted
    /// (the caller must send a snapshot instead); <see langword="true"/> with nothing copied when
    /// it is past the end.
    /// </summary>
    public bool TryRead(long fromSequence, int maxCount, long maxBytes, List<LogEntry> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_lock)
        {
            if (fromSequence < _firstSequence)
            {
                return false;
            }

            var offset = fromSequence - _firstSequence;
            var available = Math.Min(_count - offset, maxCount);
            var startBytes = offset == 0 ? _evictedBytes : _ring[(_head + (int)offset - 1) % _ring.Length].EndBytes;
            for (var i = 0; i < available; i++)
            {
                var slot = _ring[(_head + (int)offset + i) % _ring.Length];
                if (i > 0 && slot.EndBytes - startBytes > maxBytes)
                {
                    break;
                }

                into.Add(slot.Entry);
            }

            return true;
        }
    }

    /// <summary>Copies changes from <paramref name="fromSequence"/> on, up to <paramref name="maxCount"/>; see <see cref="TryRead(long, int, long, List{LogEntry})"/>.</summary>
    public bool TryRead(long fromSequence, int maxCount, List<LogEntry> into) => TryRead(fromSequence, maxCount, long.MaxValue, into);

    /// <summary>Records that the store holds everything up to <paramref name="sequence"/>, which makes those changes evictable. Persister only.</summary>
    public void MarkDurable(long sequence)
    {
        lock (_lock)
        {
            if (sequence <= _durableSequence)
            {
                return;
            }

            if (sequence > _lastSequence)
            {
                throw new InvalidOperationException($"Sequence {sequence} cannot be durable: the log ends at {_lastSequence}.");
            }

            Volatile.Write(ref _durableSequence, sequence);
            _durableEndBytes = EndBytesLocked(sequence);
            TrimLocked();
        }
    }

    /// <summary>Holds the log from <paramref name="fromSequence"/> on (within <see cref="PinnedRetentionFactor"/>) until the pin moves on or is disposed.</summary>
    public Pin PinFrom(long fromSequence)
    {
        var pin = new Pin(this, fromSequence);
        lock (_lock)
        {
            _pins.Add(pin);
        }

        return pin;
    }

    private long EndBytesLocked(long sequence) => sequence < _firstSequence
        ? _evictedBytes
        : _ring[(_head + (int)(sequence - _firstSequence)) % _ring.Length].EndBytes;

    private void TrimLocked()
    {
        var minPin = long.MaxValue;
        foreach (var pin in _pins)
        {
            minPin = Math.Min(minPin, pin.Sequence);
        }

        while (_count > 0)
        {
            var bytes = _totalBytes - _evictedBytes;
            if (_count <= _maxChanges && bytes <= _maxBytes)
            {
                return;
            }

            if (_firstSequence > _durableSequence)
            {
                return; // never evict what the store does not have
            }

            if (_firstSequence >= minPin && _count <= (long)_maxChanges * PinnedRetentionFactor && bytes <= _maxBytes * PinnedRetentionFactor)
            {
                return;
            }

            _evictedBytes = _ring[_head].EndBytes;
            _ring[_head] = default; // drop the JSON reference
            _head = (_head + 1) % _ring.Length;
            _count--;
            _firstSequence++;
        }
    }

    private void Grow()
    {
        var larger = new Slot[_ring.Length * 2];
        for (var i = 0; i < _count; i++)
        {
            larger[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = larger;
        _head = 0;
    }

    private void Move(Pin pin, long sequence)
    {
        lock (_lock)
        {
            pin.Sequence = sequence;
            TrimLocked();
        }
    }

    private void Release(Pin pin)
    {
        lock (_lock)
        {
            if (_pins.Remove(pin))
            {
                TrimLocked();
            }
        }
    }

    private readonly record struct Slot(LogEntry Entry, long EndBytes);

    /// <summary>Holds the log from <see cref="Sequence"/> on; see <see cref="PinFrom(long)"/>. Owned by one catch-up worker.</summary>
    internal sealed class Pin : IDisposable
    {
        private readonly ReplicationLog _log;

        internal Pin(ReplicationLog log, long sequence)
        {
            _log = log;
            Sequence = sequence;
        }

        /// <summary>The oldest change held; written under the log's lock.</summary>
        public long Sequence { get; internal set; }

        /// <summary>Releases changes before <paramref name="sequence"/>.</summary>
        public void MoveTo(long sequence) => _log.Move(this, sequence);

        public void Dispose() => _log.Release(this);
    }
}
