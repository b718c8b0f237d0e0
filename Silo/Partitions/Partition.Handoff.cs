namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// Graceful handoff (seed 002 "promote the buddy, demote the primary"): the primary stops
/// committing at a sequence (<see cref="SealAsync"/>), a standby catches up to exactly that
/// sequence, the map's compare-and-swap moves the primary, and the requests that arrived
/// meanwhile, and later ones until this silo follows the new map, are answered with the new
/// primary (<see cref="FailHeld"/>): none fails, none is lost.
/// If the handoff cannot finish, <see cref="Unseal"/> commits them here after all.
/// </summary>
internal sealed partial class Partition
{
    // Guarded by itself: requests that arrived while sealed, and the seal flag they are held under.
    private readonly List<CommitRequest> _held = [];
    private bool _sealed;
    private TaskCompletionSource<long>? _sealedAt;
    private Exception? _heldError;

    /// <summary>
    /// Stops committing: requests read by the commit loop before complete as usual, later ones are
    /// held. Completes with the last sequence committed, once the loop holds everything after it.
    /// </summary>
    public Task<long> SealAsync()
    {
        var sealedAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_held)
        {
            _sealed = true;
            _sealedAt = sealedAt;
        }

        if (!_requests.Writer.TryWrite(CommitRequest.Wake))
        {
            sealedAt.TrySetException(Unavailable());
        }

        return sealedAt.Task;
    }

    /// <summary>Whether writes are held for a handoff whose new primary has not confirmed yet.</summary>
    public bool HoldsForHandoff
    {
        get
        {
            lock (_held)
            {
                return _sealed && _heldError is null;
            }
        }
    }

    /// <summary>The handoff did not happen: held requests are committed here after all.</summary>
    public void Unseal()
    {
        lock (_held)
        {
            _sealed = false;
            _heldError = null;
            _sealedAt?.TrySetCanceled();
            _sealedAt = null;
            foreach (var request in _held)
            {
                if (!_requests.Writer.TryWrite(request))
                {
                    request.Fail(Unavailable());
                }
            }

            _held.Clear();
        }
    }

    /// <summary>The partition moved: every held request fails with <paramref name="error"/> (a redirect to the new primary); nothing of them was applied.</summary>
    public void FailHeld(Exception error)
    {
        lock (_held)
        {
            _heldError = _sealed ? error : null;
            foreach (var request in _held)
            {
                request.Fail(error);
            }

            _held.Clear();
        }
    }

    // A request that could not be queued (the partition is stopping): held while sealed, answered
    // like the held ones once they were. False when not sealed.
    private bool TryHold(CommitRequest request)
    {
        lock (_held)
        {
            if (!_sealed)
            {
                return false;
            }

            if (_heldError is { } error)
            {
                request.Fail(error);
            }
            else
            {
                _held.Add(request);
            }

            return true;
        }
    }

    // Commit loop: while sealed, everything readable is held instead of committed. False when not sealed.
    private bool HoldQueued()
    {
        lock (_held)
        {
            if (!_sealed)
            {
                return false;
            }

            while (_requests.Reader.TryRead(out var request))
            {
                if (ReferenceEquals(request, CommitRequest.Wake))
                {
                    continue;
                }

                if (_heldError is { } error)
                {
                    request.Fail(error); // handed off already: straight to the new primary
                }
                else
                {
                    _held.Add(request);
                }
            }

            _sealedAt?.TrySetResult(_lastSequence);
            return true;
        }
    }
}
