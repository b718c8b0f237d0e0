using Orleans.Storage;

namespace OrleansReplication.Grains.State;

/// <summary>
/// A facet's Orleans grain storage (<c>[ReplicatedState("cart", storageName: "store")]</c>): read when
/// the partition has no copy of the state (a grain whose state an Orleans application persisted
/// before it took the facet), and kept current behind the partition, which stays the state's truth.
/// Every acknowledged change is written there in the background, the latest only when several are
/// waiting; a <c>Durable</c> write waits for it (write-through). Runs on the grain's own scheduler.
/// </summary>
/// <remarks>
/// Its errors carry the storage's exception as text only: they cross Orleans' wire to the caller,
/// and a provider's own exception type (Npgsql's, say) has no Orleans codec.
/// </remarks>
internal sealed class StorageMirror<TState>(IGrainStorage storage, SemaphoreSlim writes, string stateName, GrainId grain, StateCodec<TState> codec)
{
    private string? _etag;
    private byte[]? _pending;
    private bool _pendingClear;
    private bool _dirty;
    private Task? _running;

    /// <summary>The state the storage holds, or null when it holds none; remembers its ETag.</summary>
    /// <exception cref="ReplicaUnavailableException">The storage did not answer.</exception>
    public async Task<TState?> ReadAsync()
    {
        var state = new GrainState<TState>();
        try
        {
            await storage.ReadStateAsync(stateName, grain, state);
        }
        catch (Exception ex) when (ex is not ReplicaUnavailableException)
        {
            throw new ReplicaUnavailableException($"State '{stateName}' of {grain} is not in its partition, and its grain storage could not be read ({ex.GetType().Name}: {ex.Message}); call again.", TimeSpan.FromSeconds(1));
        }

        _etag = state.ETag;
        return state.RecordExists ? state.State : default;
    }

    /// <summary>Queues <paramref name="bytes"/> (null: cleared) for the storage; with <paramref name="wait"/>, returns once it is written.</summary>
    /// <exception cref="ReplicaUnavailableException">(Awaited only) The storage did not take it; the next write tries again.</exception>
    public Task WriteAsync(byte[]? bytes, bool wait)
    {
        (_pending, _pendingClear, _dirty) = (bytes, bytes is null, true);
        var running = _running;
        if (running is null)
        {
            // A storage that answers synchronously (SQLite) finishes the run before it is assigned:
            // only a run still going is remembered, or the next write would wait on a finished one.
            running = RunAsync();
            _running = running.IsCompleted ? null : running;

            // In the background nobody awaits it: a failure waits for the next write to be tried again.
            _ = running.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }

        return wait ? running : Task.CompletedTask;
    }

    /// <summary>Waits for what is queued (deactivation), at most <paramref name="timeout"/>.</summary>
    public Task FlushAsync(TimeSpan timeout) => _running is { } running ? running.WaitAsync(timeout) : Task.CompletedTask;

    private async Task RunAsync()
    {
        try
        {
            while (_dirty)
            {
                await writes.WaitAsync();
                try
                {
                    // Writes that came while this one waited for its turn go out as one: the latest.
                    var (bytes, clear) = (_pending, _pendingClear);
                    _dirty = false;
                    await WriteOnceAsync(bytes, clear);
                }
                catch (Exception ex)
                {
                    _dirty = true;
                    throw ex as ReplicaUnavailableException ?? new ReplicaUnavailableException($"State '{stateName}' of {grain} is replicated but its grain storage did not take it ({ex.GetType().Name}: {ex.Message}); the next write tries the storage again.", TimeSpan.FromSeconds(1));
                }
                finally
                {
                    writes.Release();
                }
            }
        }
        finally
        {
            _running = null;
        }
    }

    // The partition is the truth: a storage row someone else moved is overwritten after reading its ETag.
    private async Task WriteOnceAsync(byte[]? bytes, bool clear)
    {
        for (var attempt = 0; ; attempt++)
        {
            var state = new GrainState<TState> { ETag = _etag, RecordExists = _etag is not null };
            try
            {
                if (clear)
                {
                    await storage.ClearStateAsync(stateName, grain, state);
                }
                else
                {
                    state.State = codec.Deserialize(bytes!);
                    await storage.WriteStateAsync(stateName, grain, state);
                }

                _etag = state.ETag;
                return;
            }
            catch (InconsistentStateException) when (attempt == 0)
            {
                await ReadAsync();
            }
        }
    }
}
