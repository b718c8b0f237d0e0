using System.Collections.Concurrent;
using OrleansReplication.Silo.AntiEntropy;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// Anti-entropy on the primary: between two batches the commit loop sends each streaming standby
/// the root hash at the partition's last sequence, in the stream, so the standby compares at
/// exactly that sequence while writes go on. A standby whose root differs answers its clump
/// hashes; the primary sends the items of the differing clumps only (again in the stream, at the
/// sequence of the moment), and the standby makes those clumps the primary's.
/// </summary>
internal sealed partial class Partition
{
    private readonly ConcurrentQueue<AntiEntropyWork> _antiEntropyWork = new();
    private readonly ConcurrentDictionary<IReplicaLink, PendingCheck> _pendingChecks = new();
    private readonly ConcurrentDictionary<IReplicaLink, PendingRepair> _pendingRepairs = new();
    private readonly ConcurrentDictionary<string, ReplicaCheckStatus> _checks = new(StringComparer.Ordinal);
    private readonly Lock _antiEntropyLock = new();

    // Under _antiEntropyLock: callers of CheckNowAsync, each waiting for the standbys its check went to.
    private readonly List<CheckWaiter> _checkWaiters = [];

    // Commit loop only: numbers checks and repairs, so an answer finds its question.
    private long _antiEntropyRound;

    // Raised by the commit loop (items sent in repairs), read by tests and diagnostics.
    private long _repairItemsSent;

    /// <summary>Where anti-entropy reports what it found and repaired (set by the partition manager).</summary>
    public Action<AntiEntropyReport>? AntiEntropyReported { get; set; }

    /// <summary>The last comparison with each standby (by standby name).</summary>
    public IReadOnlyDictionary<string, ReplicaCheckStatus> ReplicaChecks => _checks;

    /// <summary>Items the primary sent to standbys in repairs, in total.</summary>
    public long RepairItemsSent => Volatile.Read(ref _repairItemsSent);

    /// <summary>
    /// Asks the commit loop to compare this partition with every streaming standby at the next
    /// point between batches. False when anti-entropy is off or the partition does not serve.
    /// </summary>
    public bool RequestAntiEntropyCheck()
    {
        if (Items.Digest is null || _status != PartitionStatus.Serving)
        {
            return false;
        }

        _antiEntropyWork.Enqueue(new AntiEntropyWork(null, null));
        return _requests.Writer.TryWrite(CommitRequest.Wake);
    }

    /// <summary>
    /// Compares the partition with every streaming standby now and waits until each comparison
    /// ended (in sync, repaired, resynced, or not comparable), or <paramref name="cancellationToken"/>.
    /// Returns the standbys compared; a standby catching up is not compared (its snapshot or log
    /// replay is what makes it right).
    /// </summary>
    /// <exception cref="ReplicaUnavailableException">The partition does not serve here, or anti-entropy is off.</exception>
    public async Task<IReadOnlyList<string>> CheckNowAsync(CancellationToken cancellationToken)
    {
        if (Items.Digest is null)
        {
            throw new ReplicaUnavailableException($"Anti-entropy is off on this silo (Replication:AntiEntropy:Clumps is 0): partition {Id} keeps no clump hashes to compare.", TimeSpan.Zero);
        }

        var waiter = new CheckWaiter();
        _antiEntropyWork.Enqueue(new AntiEntropyWork(null, null, waiter));
        if (_status != PartitionStatus.Serving || !_requests.Writer.TryWrite(CommitRequest.Wake))
        {
            throw Unavailable();
        }

        using var registration = cancellationToken.Register(static w => ((CheckWaiter)w!).Completion.TrySetCanceled(), waiter);
        return await waiter.Completion.Task.ConfigureAwait(false);
    }

    /// <summary>Commit loop only, between batches: sends the checks and repairs asked for, at <see cref="LastSequence"/>.</summary>
    private void ServeAntiEntropy()
    {
        if (_antiEntropyWork.IsEmpty)
        {
            return;
        }

        var digest = Items.Digest;
        while (_antiEntropyWork.TryDequeue(out var work))
        {
            if (digest is null || _status != PartitionStatus.Serving)
            {
                work.Waiter?.Completion.TrySetException(Unavailable());
                continue;
            }

            if (work.Link is null)
            {
                SendChecks(digest, work.Waiter);
            }
            else
            {
                SendRepair(work.Link, work.Clumps!, work.CheckRound, digest);
            }
        }
    }

    private void SendChecks(ClumpDigest digest, CheckWaiter? waiter)
    {
        var sequence = _lastSequence;
        var clumps = digest.Copy();
        var round = ++_antiEntropyRound;
        var record = new ReplicationBatch
        {
            Partition = Id,
            Epoch = Epoch,
            Check = new DigestCheck { Round = round, Sequence = sequence, Clumps = clumps.Length, Root = ClumpDigest.RootOf(clumps) },
        };

        var links = Volatile.Read(ref _links);
        if (waiter is not null)
        {
            // Before anything is sent: an answer may come back before this loop ends.
            lock (_antiEntropyLock)
            {
                waiter.Round = round;
                waiter.Remaining.UnionWith(links);
                if (links.Length == 0)
                {
                    waiter.Completion.TrySetResult([]);
                }
                else
                {
                    _checkWaiters.Add(waiter);
                }
            }
        }

        foreach (var link in links)
        {
            // Recorded before the send, which the answer may overtake.
            var pending = new PendingCheck(round, sequence, clumps);
            _pendingChecks[link] = pending;
            if (waiter is not null)
            {
                lock (_antiEntropyLock)
                {
                    waiter.Compared.Add(link.Name);
                }
            }

            if (!link.TrySendAntiEntropy(record, sequence))
            {
                _pendingChecks.TryRemove(KeyValuePair.Create(link, pending));
                if (waiter is not null)
                {
                    lock (_antiEntropyLock)
                    {
                        waiter.Compared.Remove(link.Name);
                    }

                    Finished(link, round);
                }
            }
        }
    }

    /// <summary>The partition stopped here: nobody answers the checks still awaited.</summary>
    private void FailCheckWaiters()
    {
        lock (_antiEntropyLock)
        {
            foreach (var waiter in _checkWaiters)
            {
                waiter.Completion.TrySetException(Unavailable());
            }

            _checkWaiters.Clear();
        }
    }

    /// <summary>A standby left: its comparisons end unanswered.</summary>
    private void ForgetAntiEntropy(IReplicaLink link)
    {
        _pendingChecks.TryRemove(link, out _);
        _pendingRepairs.TryRemove(link, out _);
        Finished(link, long.MaxValue);
    }

    /// <summary>The comparison that <paramref name="round"/>'s check started with <paramref name="link"/> ended: tell the waiters.</summary>
    private void Finished(IReplicaLink link, long round)
    {
        lock (_antiEntropyLock)
        {
            for (var i = _checkWaiters.Count - 1; i >= 0; i--)
            {
                var waiter = _checkWaiters[i];
                if (waiter.Round <= round && waiter.Remaining.Remove(link) && waiter.Remaining.Count == 0)
                {
                    _checkWaiters.RemoveAt(i);
                    waiter.Completion.TrySetResult([.. waiter.Compared]);
                }
            }
        }
    }

    private void SendRepair(IReplicaLink link, int[] clumps, long checkRound, ClumpDigest digest)
    {
        var items = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        Items.CollectClumps(new HashSet<int>(clumps), items);
        var expected = new ulong[clumps.Length];
        for (var i = 0; i < clumps.Length; i++)
        {
            expected[i] = digest.Clumps[clumps[i]];
        }

        var round = ++_antiEntropyRound;
        var repair = new ClumpRepair
        {
            Round = round,
            Sequence = _lastSequence,
            Clumps = digest.ClumpCount,
            Repaired = clumps,
            Expected = expected,
            Items = items.ConvertAll(static i => ReplicatedChanges.ToRecord(i.Key, i.Value)),
        };

        var pending = new PendingRepair(round, checkRound, clumps);
        _pendingRepairs[link] = pending;
        if (link.TrySendAntiEntropy(new ReplicationBatch { Partition = Id, Epoch = Epoch, Repair = repair }, _lastSequence))
        {
            Interlocked.Add(ref _repairItemsSent, items.Count);
        }
        else
        {
            // Not sent (the standby fell out of sync, or its queue is full): the next check finds the clumps again.
            _pendingRepairs.TryRemove(KeyValuePair.Create(link, pending));
            Finished(link, checkRound);
        }
    }

    void IReplicationSource.OnAntiEntropyAnswer(IReplicaLink link, DigestAnswer answer)
    {
        AntiEntropyReport? report;
        lock (_antiEntropyLock)
        {
            report = answer.Repair ? OnRepairAnswer(link, answer) : OnCheckAnswer(link, answer);
        }

        if (report is not null)
        {
            AntiEntropyReported?.Invoke(report);
        }
    }

    private void OnCheckEnded(IReplicaLink link, long checkRound) => Finished(link, checkRound);

    // Under _antiEntropyLock.
    private AntiEntropyReport? OnCheckAnswer(IReplicaLink link, DigestAnswer answer)
    {
        if (!_pendingChecks.TryGetValue(link, out var pending) || pending.Round != answer.Round || !_pendingChecks.TryRemove(KeyValuePair.Create(link, pending)))
        {
            return null; // an older round's answer, or one for another primary's question
        }

        var previous = _checks.GetValueOrDefault(link.Name);
        var now = _time.GetUtcNow();
        if (answer.Skipped)
        {
            _checks[link.Name] = new ReplicaCheckStatus(now, answer.Sequence, ReplicaCheckOutcome.Skipped, 0, 0, previous?.DivergedInARow ?? 0);
            OnCheckEnded(link, pending.Round);
            return null;
        }

        if (answer.Matched)
        {
            _checks[link.Name] = new ReplicaCheckStatus(now, answer.Sequence, ReplicaCheckOutcome.InSync, 0, 0, 0);
            OnCheckEnded(link, pending.Round);
            return null;
        }

        if (answer.Clumps is not { } theirs || theirs.Length != pending.Clumps.Length)
        {
            _checks[link.Name] = new ReplicaCheckStatus(now, answer.Sequence, ReplicaCheckOutcome.Incomparable, 0, 0, 0);
            OnCheckEnded(link, pending.Round);
            return previous?.Outcome == ReplicaCheckOutcome.Incomparable
                ? null
                : new AntiEntropyReport(Id, Epoch, link.Name, AntiEntropyFinding.Incomparable, answer.Sequence, [], 0, 0);
        }

        var differing = ClumpDigest.Differing(pending.Clumps, theirs);
        var inARow = (previous?.DivergedInARow ?? 0) + 1;
        _checks[link.Name] = new ReplicaCheckStatus(now, answer.Sequence, ReplicaCheckOutcome.Diverged, differing.Length, 0, inARow);
        if (inARow > _options.AntiEntropy.MaxRepairsInARow)
        {
            link.Resync($"it diverged from the primary in {inARow} checks in a row despite repairs");
            _checks[link.Name] = _checks[link.Name] with { Outcome = ReplicaCheckOutcome.Resynced };
            OnCheckEnded(link, pending.Round);
            return new AntiEntropyReport(Id, Epoch, link.Name, AntiEntropyFinding.KeepsDiverging, answer.Sequence, differing, 0, inARow);
        }

        _antiEntropyWork.Enqueue(new AntiEntropyWork(link, differing, CheckRound: pending.Round));
        _requests.Writer.TryWrite(CommitRequest.Wake);
        return null;
    }

    // Under _antiEntropyLock.
    private AntiEntropyReport? OnRepairAnswer(IReplicaLink link, DigestAnswer answer)
    {
        if (!_pendingRepairs.TryGetValue(link, out var pending) || pending.Round != answer.Round || !_pendingRepairs.TryRemove(KeyValuePair.Create(link, pending)))
        {
            return null;
        }

        var inARow = _checks.GetValueOrDefault(link.Name)?.DivergedInARow ?? 1;
        var clumps = pending.Clumps.Length;
        OnCheckEnded(link, pending.CheckRound);
        if (!answer.Matched)
        {
            // The standby applied the primary's items and still hashes them differently: its copy
            // cannot be trusted clump by clump. Out of the in-sync set, and a full snapshot.
            link.Resync("its repaired clumps still differ from the primary's");
            _checks[link.Name] = new ReplicaCheckStatus(_time.GetUtcNow(), answer.Sequence, ReplicaCheckOutcome.Resynced, clumps, answer.ItemsChanged, inARow);
            return new AntiEntropyReport(Id, Epoch, link.Name, AntiEntropyFinding.KeepsDiverging, answer.Sequence, pending.Clumps, answer.ItemsChanged, inARow);
        }

        _checks[link.Name] = new ReplicaCheckStatus(_time.GetUtcNow(), answer.Sequence, ReplicaCheckOutcome.Repaired, clumps, answer.ItemsChanged, inARow);
        return new AntiEntropyReport(Id, Epoch, link.Name, AntiEntropyFinding.ReplicaRepaired, answer.Sequence, pending.Clumps, answer.ItemsChanged, inARow);
    }

    /// <summary>A check or repair the commit loop is asked to send: a check of every standby (no link; maybe awaited), or a repair of <see cref="Clumps"/> for one after the check of <see cref="CheckRound"/>.</summary>
    private readonly record struct AntiEntropyWork(IReplicaLink? Link, int[]? Clumps, CheckWaiter? Waiter = null, long CheckRound = 0);

    /// <summary>A repair sent to a standby: its round, the check round that found the clumps, and the clumps it repairs.</summary>
    private sealed record PendingRepair(long Round, long CheckRound, int[] Clumps);

    /// <summary>A caller of <see cref="CheckNowAsync"/>: the round of its check and the standbys whose comparison has not ended.</summary>
    private sealed class CheckWaiter
    {
        public TaskCompletionSource<IReadOnlyList<string>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Round { get; set; } = long.MaxValue;

        public HashSet<IReplicaLink> Remaining { get; } = [];

        // Under the partition's _antiEntropyLock.
        public List<string> Compared { get; } = [];
    }

    /// <summary>A check sent to a standby, with the primary's clumps at its sequence.</summary>
    private sealed record PendingCheck(long Round, long Sequence, ulong[] Clumps);
}
