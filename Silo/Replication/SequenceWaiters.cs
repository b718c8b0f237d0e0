namespace OrleansReplication.Silo.Replication;

/// <summary>Something that waits for a watermark: a write waiting for its safety level.</summary>
internal interface ISequenceWaiter
{
    /// <summary>The watermark reached the waiter's sequence.</summary>
    void Complete();

    /// <summary>The watermark will never reach it (the partition stopped or was fenced).</summary>
    void Fail(Exception error);
}

/// <summary>
/// Waiters for one watermark (received, applied or durable) of one partition. Waiters are added
/// in sequence order by the commit loop, so they form a FIFO queue and an advance completes a
/// prefix of it: O(1) amortized per waiter. The watermark only grows; a lower value is ignored.
/// </summary>
/// <remarks>
/// Thread-safe with one short lock, never held across an await. Completing a waiter inside the
/// lock is cheap: callers' completions run their continuations asynchronously.
/// </remarks>
internal sealed class SequenceWaiters(long watermark)
{
    private readonly Lock _lock = new();
    private readonly Queue<(long Sequence, ISequenceWaiter Waiter)> _waiting = new();

    // Written under _lock, read lock-free by Advance's fast path and diagnostics.
    private long _watermark = watermark;
    private Exception? _failed;

    /// <summary>Everything up to here reached this level.</summary>
    public long Watermark => Volatile.Read(ref _watermark);

    /// <summary>How many waiters are pending.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>
    /// Completes <paramref name="waiter"/> once the watermark reaches <paramref name="sequence"/> (at
    /// once when it has). Sequences should not decrease; a lower one (a replayed request) completes
    /// with the waiter queued before it: late, never early.
    /// </summary>
    public void Add(long sequence, ISequenceWaiter waiter)
    {
        Exception? failed;
        lock (_lock)
        {
            failed = _failed;
            if (failed is null && sequence > _watermark)
            {
                _waiting.Enqueue((sequence, waiter));
                return;
            }
        }

        if (failed is not null)
        {
            waiter.Fail(failed);
        }
        else
        {
            waiter.Complete();
        }
    }

    /// <summary>Raises the watermark to <paramref name="watermark"/> and completes every waiter at or below it; false when it was there already.</summary>
    public bool Advance(long watermark)
    {
        if (watermark <= Volatile.Read(ref _watermark))
        {
            return false;
        }

        lock (_lock)
        {
            if (watermark <= _watermark)
            {
                return false;
            }

            Volatile.Write(ref _watermark, watermark);
            while (_waiting.TryPeek(out var head) && head.Sequence <= watermark)
            {
                _waiting.Dequeue();
                head.Waiter.Complete();
            }
        }

        return true;
    }

    /// <summary>Fails every pending waiter and every later one with <paramref name="error"/>.</summary>
    public void FailAll(Exception error)
    {
        lock (_lock)
        {
            _failed ??= error;
            while (_waiting.TryDequeue(out var entry))
            {
                entry.Waiter.Fail(error);
            }
        }
    }
}
