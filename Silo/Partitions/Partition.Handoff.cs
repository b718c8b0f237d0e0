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
    /// <exception cref="PartitionMovedException">The partition was handed off already.</exception>
    public Task<long> SealAsync()
    {
        var sealedAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_held)
        {
            if (HandedOff)
            {
                return Task.FromException<long>(new PartitionMovedException(Id, $"Partition {Id} was handed off already; it cannot be sealed for another handoff."));
            }

            _sealed = true;
            _sealedAt = sealedAt;
        }

        if (!_requests.Writer.TryWrite(CommitRequest.Wake))
        {
            sealedAt.TrySetException(Unavailable());
        }

        return sealedAt.Task;
    }

    /// <summary>How many requests are held for a handoff now (diagnostics and tests).</summary>
    public int HeldRequests
    {
        get
        {
            lock (_held)
            {
                return _held.Count;
            }
        }
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

    /// <summary>
    /// Whether the partition was handed off (the map's compare-and-swap moved it): it serves no
    /// more reads, as its new primary may have committed past it; held writes wait for the redirect.
    /// </summary>
    public bool HandedOff => Volatile.Read(ref _handedOff);

    /// <summary>
    /// A handed-off, stopped partition's state as a warm copy: every change up to the seal, the
    /// state its successor started from. For the partition's return to this silo at a later epoch
    /// with no standby copy here: the successor may have died before it persisted that tail, and
    /// the store alone would lose writes acknowledged up to the seal. Null otherwise.
    /// </summary>
    public WarmCopy? HandedOffCopy()
    {
        if (!HandedOff || _status == PartitionStatus.Serving || _log is null)
        {
            return null;
        }

        var items = new List<KeyValuePair<ItemAddress, ItemEntry>>(Items.Count);
        Items.CopyTo(items);
        return new WarmCopy(items, LastSequence, Epoch, _requestTable.Copy());
    }

    private bool _handedOff;

    /// <summary>
    /// The map moved the partition to a standby that applied every change up to
    /// <paramref name="caughtUpTo"/> (the seal): those changes are the new primary's state, so the
    /// writes waiting for standbys' acks up to there are acknowledged (the rest of the old buddy
    /// group no longer decides), and reads here stop.
    /// </summary>
    public void MarkHandedOff(long caughtUpTo)
    {
        lock (_held)
        {
            Volatile.Write(ref _handedOff, true);
        }

        if (_log is not null)
        {
            AcknowledgeReplicatedUpTo(caughtUpTo);
        }

        NotifyWatchers(); // their streams end here and resume at the new primary
    }

    /// <summary>
    /// The handoff did not happen: held requests are committed here after all. Ignored once the
    /// partition was handed off (a later handoff attempt, planned on a map read before the move,
    /// gave up): committing here then would fork the partition's history from its new primary's.
    /// </summary>
    public void Unseal()
    {
        lock (_held)
        {
            if (HandedOff)
            {
                return;
            }

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
