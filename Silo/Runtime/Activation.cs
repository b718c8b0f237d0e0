using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Silo.Runtime;

/// <summary>
/// One live grain instance and its mailbox. Calls run one at a time in arrival order: a drain
/// task is started when the first call arrives and ends when the mailbox is empty, so an idle
/// activation costs no task and no thread.
/// </summary>
internal sealed class Activation : IGrainContext
{
    private readonly object _gate = new();
    private readonly Queue<GrainWorkItem> _mailbox = new();
    private readonly GrainRuntime _runtime;
    private readonly Func<Grain> _factory;
    private readonly TaskCompletionSource _deactivated = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // All guarded by _gate; never held across an await.
    private bool _running;
    private bool _closed;
    private bool _activated;
    private bool _deactivateRequested;
    private DeactivationReason _closeReason;
    private Grain? _grain;

    // Written under _gate by callers, read without it by the collector: a torn or stale read only
    // delays collection by one interval, so a plain long with Volatile is enough.
    private long _lastUsedTimestamp;

    public Activation(GrainRuntime runtime, GrainId grainId, Func<Grain> factory, long now)
    {
        _runtime = runtime;
        GrainId = grainId;
        _factory = factory;
        _lastUsedTimestamp = now;
    }

    public GrainId GrainId { get; }

    public IGrainFactory GrainFactory => _runtime;

    /// <summary>
    /// Completes when the activation has run <see cref="Grain.OnDeactivateAsync"/> and left the
    /// directory. A closed activation stays in the directory until then, so callers wait for it
    /// and a grain never has two activations at once.
    /// </summary>
    public Task Deactivated => _deactivated.Task;

    public long LastUsedTimestamp => Volatile.Read(ref _lastUsedTimestamp);

    public void DeactivateOnIdle()
    {
        lock (_gate)
        {
            _deactivateRequested = true;
        }
    }

    /// <summary>Queues a call. False when the activation is closed: the caller must resolve a new one.</summary>
    public bool TryPost(GrainWorkItem item, long now)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            _mailbox.Enqueue(item);
            Volatile.Write(ref _lastUsedTimestamp, now);
            if (_running)
            {
                return true;
            }

            _running = true;
        }

        _ = Task.Run(DrainAsync);
        return true;
    }

    /// <summary>Closes the activation if no call is queued or running. False when it is busy.</summary>
    public bool TryCloseIfIdle(DeactivationReason reason)
    {
        lock (_gate)
        {
            if (_closed || _running || _mailbox.Count > 0)
            {
                return false;
            }

            _closed = true;
            _closeReason = reason;
            _running = true;
        }

        _ = Task.Run(DrainAsync);
        return true;
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            GrainWorkItem? item;
            bool close;
            lock (_gate)
            {
                if (!_mailbox.TryDequeue(out item))
                {
                    if (_deactivateRequested && !_closed)
                    {
                        _closed = true;
                        _closeReason = DeactivationReason.Requested;
                    }

                    close = _closed;
                    if (!close)
                    {
                        _running = false;
                        return;
                    }
                }
                else
                {
                    close = false;
                }
            }

            if (close)
            {
                await DeactivateAsync().ConfigureAwait(false);
                return;
            }

            if (!_activated && !await ActivateAsync(item!).ConfigureAwait(false))
            {
                return;
            }

            await item!.RunAsync(_grain!).ConfigureAwait(false);
        }
    }

    private async Task<bool> ActivateAsync(GrainWorkItem first)
    {
        try
        {
            _grain = _factory();
            _grain.Attach(this);
            await _grain.OnActivateAsync(_runtime.Stopping).ConfigureAwait(false);
            _activated = true;
            return true;
        }
        catch (Exception ex)
        {
            _runtime.OnActivationFailed(this, ex);
            List<GrainWorkItem> failed = [first];
            lock (_gate)
            {
                _closed = true;
                _closeReason = DeactivationReason.ActivationFailed;
                failed.AddRange(_mailbox);
                _mailbox.Clear();
            }

            foreach (var item in failed)
            {
                item.Fail(ex);
            }

            _grain = null;
            await DeactivateAsync().ConfigureAwait(false);
            return false;
        }
    }

    private async Task DeactivateAsync()
    {
        try
        {
            if (_activated && _grain is not null)
            {
                await _grain.OnDeactivateAsync(_closeReason, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            _runtime.OnDeactivationFailed(this, ex);
        }
        finally
        {
            _runtime.OnDeactivated(this);
            _deactivated.TrySetResult();
        }
    }
}
