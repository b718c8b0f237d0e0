using System.Runtime.InteropServices;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Replication;

/// <summary>What a standby did with a record.</summary>
internal enum StandbyApplyResult
{
    /// <summary>Applied (a batch), or the last chunk of a snapshot installed.</summary>
    Applied,

    /// <summary>A snapshot chunk was staged; the copy changes at the last chunk.</summary>
    Staged,

    /// <summary>Every change was already applied: nothing to do.</summary>
    Duplicate,

    /// <summary>Refused: the batch does not follow the applied sequence (or is not contiguous). Nothing applied; the standby needs catch-up.</summary>
    Gap,

    /// <summary>Refused: a batch of a new epoch on top of another history. Nothing applied; the standby needs a snapshot.</summary>
    NeedsSnapshot,

    /// <summary>Refused: the record's epoch is below the one the standby follows (its sender was deposed).</summary>
    StaleEpoch,

    /// <summary>Refused: the record is for another partition, or a batch arrived while a snapshot was being staged.</summary>
    Ignored,
}

/// <summary>
/// The warm copy of one partition on a standby: applies batches strictly in sequence order,
/// keeping a bounded tail of the changes for a promotion (<see cref="Tail"/>), and installs
/// snapshots. A single consumer (the link's receive loop) calls <see cref="Apply"/> and
/// <see cref="Install"/>; any thread reads <see cref="Items"/>, <see cref="AppliedSequence"/> and
/// <see cref="Epoch"/>.
/// </summary>
internal sealed class StandbyReplica
{
    private readonly ReplicationOptions _options;

    // Consumer only, reused for every batch.
    private readonly List<KeyValuePair<ItemAddress, PendingEntry>> _changes = [];
    private readonly List<LogEntry> _tailEntries = [];
    private readonly List<long> _previousVersions = [];

    // Consumer only (or under the host's lock on this replica): the changes applied recently, so a
    // promotion continues the primary's history and a listener resumes across it with no gap.
    // Bounded like the primary's log; every entry counts as persisted (the store is the old
    // primary's business), so retention evicts by the bounds alone. Restarts at a snapshot.
    private ReplicationLog _tail;

    // Consumer only (or under the host's lock on this replica): the requests with idempotency ids
    // the primary recorded, so that after a promotion a retry is answered, not applied again.
    private RequestTable? _requests;
    private List<RecordedRequest>? _stagingRequests;

    // Swapped by the consumer at a snapshot's last chunk; read by any thread (a reference write is atomic).
    private volatile ItemTable _items;

    // Consumer only: the answer to the last anti-entropy check or repair, sent with the next ack.
    private DigestAnswer? _answer;

    // Consumer only: the snapshot being staged.
    private ItemTable? _staging;
    private long _stagingSequence;
    private long _stagingEpoch;
    private long _stagingId;

    // Consumer only: the id of the last snapshot installed, reported in every ack.
    private long _installedSnapshot;

    // Written by the consumer, read by any thread (64-bit values written whole).
    private long _appliedSequence;
    private long _epoch;

    // Consumer only: the applied sequence at which a catch-up was last asked for, so a queue full
    // of records past a gap asks once, not once per record.
    private long _catchUpAskedAt = -1;

    public StandbyReplica(int partitionId, ReplicationOptions? options = null)
    {
        PartitionId = partitionId;
        _options = options ?? new ReplicationOptions();
        _tail = new ReplicationLog(0, _options);
        _items = new ItemTable(_options.AntiEntropy.Clumps);
    }

    public int PartitionId { get; }

    /// <summary>The recently applied changes (a copy, with the first sequence the tail ever held; consumer or the host's lock).</summary>
    public LogTail Tail
    {
        get
        {
            var entries = new List<LogEntry>(_tail.Count);
            _tail.TryRead(_tail.FirstSequence, int.MaxValue, entries);
            return new LogTail(_tail.StartSequence, [.. entries]);
        }
    }

    /// <summary>The warm items, as of <see cref="AppliedSequence"/>.</summary>
    public ItemTable Items => _items;

    /// <summary>Every change up to here is applied, in order, with none missing: what promotion compares.</summary>
    public long AppliedSequence => Volatile.Read(ref _appliedSequence);

    /// <summary>The epoch of the primary this copy follows; records of a lower epoch are refused.</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>The recorded requests this copy remembers, oldest first (a copy; consumer or the host's lock).</summary>
    public List<RecordedRequest> Requests => _requests?.Copy() ?? [];

    /// <summary>Whether a snapshot is being staged.</summary>
    public bool InstallingSnapshot => _staging is not null;

    /// <summary>Applies a batch if it follows the applied sequence; changes already applied are skipped; a gap is refused whole.</summary>
    public StandbyApplyResult Apply(ReplicationBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Partition != PartitionId || _staging is not null)
        {
            return StandbyApplyResult.Ignored;
        }

        var epoch = Epoch;
        if (batch.Epoch < epoch)
        {
            return StandbyApplyResult.StaleEpoch;
        }

        var changes = batch.Changes;
        if (changes.Count == 0)
        {
            return AntiEntropy(batch);
        }

        var applied = AppliedSequence;
        if (batch.Epoch > epoch && applied > 0)
        {
            // A new primary's history may differ from ours past some point: never mix the two.
            return StandbyApplyResult.NeedsSnapshot;
        }

        if (changes[changes.Count - 1].Sequence <= applied)
        {
            return AntiEntropy(batch);
        }

        if (changes[0].Sequence > applied + 1)
        {
            return StandbyApplyResult.Gap;
        }

        // Check the whole batch before changing anything: a gap inside it is refused too.
        for (var i = 1; i < changes.Count; i++)
        {
            if (changes[i].Sequence != changes[i - 1].Sequence + 1)
            {
                return StandbyApplyResult.Gap;
            }
        }

        _changes.Clear();
        _tailEntries.Clear();
        _previousVersions.Clear();
        foreach (var change in changes)
        {
            if (change.Sequence > applied)
            {
                var address = ReplicatedChanges.Address(change);
                var json = change.Remove ? null : ReplicatedChanges.Json(change);
                _changes.Add(KeyValuePair.Create(address, new PendingEntry(change.Sequence, json)));
                RecordedRequest? recorded = null;
                if (change.Request is { } request)
                {
                    recorded = RecordedRequest.FromWire(request);
                    Remember(recorded);
                }

                _tailEntries.Add(new LogEntry(address, change.Sequence, 0, json, recorded));
            }
        }

        _items.Apply(_changes, _previousVersions);
        _changes.Clear();
        var tail = CollectionsMarshal.AsSpan(_tailEntries);
        for (var i = 0; i < tail.Length; i++)
        {
            tail[i] = tail[i] with { PreviousVersion = _previousVersions[i] };
        }

        _tail.Append(tail);
        _tail.MarkDurable(_tail.LastSequence);
        _tailEntries.Clear();
        Volatile.Write(ref _epoch, batch.Epoch);
        Volatile.Write(ref _appliedSequence, changes[changes.Count - 1].Sequence);
        AntiEntropy(batch);
        return StandbyApplyResult.Applied;
    }

    /// <summary>
    /// Answers an anti-entropy check or applies a repair that rides on <paramref name="batch"/>,
    /// when this copy is exactly at its sequence in the same epoch (else it is obsolete: the
    /// primary asks again).
    /// </summary>
    private StandbyApplyResult AntiEntropy(ReplicationBatch batch)
    {
        if (batch.Check is null && batch.Repair is null)
        {
            return StandbyApplyResult.Duplicate;
        }

        if (AppliedSequence == 0 && batch.Epoch > Epoch)
        {
            // An empty copy streamed by a primary that has written nothing yet follows that primary,
            // as its first batch would make it (a partition handed on before any write included).
            Volatile.Write(ref _epoch, batch.Epoch);
        }

        if (batch.Epoch != Epoch)
        {
            return StandbyApplyResult.Duplicate;
        }

        var digest = _items.Digest;
        if (batch.Check is { } skipped && skipped.Sequence != AppliedSequence)
        {
            // Not at the check's sequence (a gap before it: being caught up): say so, the next check compares.
            _answer = new DigestAnswer { Round = skipped.Round, Sequence = AppliedSequence, Skipped = true };
        }
        else if (batch.Check is { } check)
        {
            // Another clump count (or none): answer no clumps; the primary says the settings differ.
            var comparable = digest is not null && digest.ClumpCount == check.Clumps;
            var matched = comparable && digest!.Root == check.Root;
            _answer = new DigestAnswer { Round = check.Round, Sequence = check.Sequence, Matched = matched, Clumps = matched ? null : comparable ? digest!.Copy() : [] };
        }

        if (batch.Repair is { } repair && repair.Sequence == AppliedSequence && digest is not null && digest.ClumpCount == repair.Clumps)
        {
            _answer = Repair(repair, digest);
        }

        return StandbyApplyResult.Duplicate;
    }

    /// <summary>Makes the repaired clumps exactly the primary's items: changes what differs, adds what is missing, removes what the primary lacks.</summary>
    private DigestAnswer Repair(ClumpRepair repair, AntiEntropy.ClumpDigest digest)
    {
        var wanted = new Dictionary<ItemAddress, ReplicatedChange>(repair.Items.Count);
        foreach (var item in repair.Items)
        {
            wanted[ReplicatedChanges.Address(item)] = item;
        }

        var held = new List<KeyValuePair<ItemAddress, ItemEntry>>();
        _items.CollectClumps(new HashSet<int>(repair.Repaired), held);
        _changes.Clear();
        foreach (var (address, entry) in held)
        {
            if (!wanted.Remove(address, out var item))
            {
                _changes.Add(KeyValuePair.Create(address, new PendingEntry(0, null)));
            }
            else if (item.Sequence != entry.Version || !item.Value.AsSpan().SequenceEqual(entry.Json))
            {
                _changes.Add(KeyValuePair.Create(address, new PendingEntry(item.Sequence, ReplicatedChanges.Json(item))));
            }
        }

        foreach (var (address, item) in wanted)
        {
            _changes.Add(KeyValuePair.Create(address, new PendingEntry(item.Sequence, ReplicatedChanges.Json(item))));
        }

        var changed = _changes.Count;
        _items.Apply(_changes);
        _changes.Clear();
        var matched = true;
        for (var i = 0; i < repair.Repaired.Length; i++)
        {
            matched &= digest.Clumps[repair.Repaired[i]] == repair.Expected[i];
        }

        return new DigestAnswer { Round = repair.Round, Sequence = repair.Sequence, Repair = true, Matched = matched, ItemsChanged = changed };
    }

    /// <summary>Test hook: sets an item behind the replication's back, as a bug or a lost batch would (the clumps follow, as they follow any apply).</summary>
    internal void CorruptForTesting(ItemAddress address, long version, byte[]? json) =>
        _items.Apply([KeyValuePair.Create(address, new PendingEntry(version, json))]);

    /// <summary>Stages a snapshot chunk; at the last one, replaces the copy with the snapshot and sets the applied sequence to its sequence.</summary>
    public StandbyApplyResult Install(SnapshotChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (chunk.Partition != PartitionId)
        {
            return StandbyApplyResult.Ignored;
        }

        if (chunk.Epoch < Epoch)
        {
            return StandbyApplyResult.StaleEpoch;
        }

        if (_staging is null || chunk.SnapshotSequence != _stagingSequence || chunk.Epoch != _stagingEpoch || chunk.SnapshotId != _stagingId)
        {
            // A new snapshot (one left unfinished is dropped: the primary restarted it).
            _staging = new ItemTable(_options.AntiEntropy.Clumps);
            _stagingRequests = [];
            _stagingSequence = chunk.SnapshotSequence;
            _stagingEpoch = chunk.Epoch;
            _stagingId = chunk.SnapshotId;
        }

        _changes.Clear();
        foreach (var item in chunk.Items)
        {
            if (!item.Remove)
            {
                _changes.Add(KeyValuePair.Create(ReplicatedChanges.Address(item), new PendingEntry(item.Sequence, ReplicatedChanges.Json(item))));
            }
        }

        _staging.Load(_changes);
        _changes.Clear();
        foreach (var request in chunk.Requests)
        {
            _stagingRequests!.Add(RecordedRequest.FromWire(request));
        }

        if (!chunk.Last)
        {
            return StandbyApplyResult.Staged;
        }

        _items = _staging;
        _staging = null;
        _requests = NewRequestTable();
        foreach (var request in _stagingRequests!)
        {
            Remember(request);
        }

        _stagingRequests = null;
        _tail = new ReplicationLog(chunk.SnapshotSequence, _options);
        _installedSnapshot = chunk.SnapshotId;
        _catchUpAskedAt = -1;
        Volatile.Write(ref _epoch, chunk.Epoch);
        Volatile.Write(ref _appliedSequence, chunk.SnapshotSequence);
        return StandbyApplyResult.Applied;
    }

    private DigestAnswer? TakeAnswer()
    {
        var answer = _answer;
        _answer = null;
        return answer;
    }

    private RequestTable NewRequestTable() => new(_options.RequestsRetained, _options.RequestRetention);

    // Retention by age runs on the primary's clock (the records' times), as on the primary itself.
    private void Remember(RecordedRequest request)
    {
        _requests ??= NewRequestTable();
        _requests.Add(request);
        _requests.Expire(request.RecordedAtMs);
    }

    /// <summary>
    /// The acknowledgement after some records: everything applied (a standby's queue is drained
    /// before it acks, so received = applied). Asks for catch-up after a refusal, once per
    /// applied sequence.
    /// </summary>
    public ReplicationAck CreateAck(bool refused)
    {
        var applied = AppliedSequence;
        var ask = refused && _catchUpAskedAt != applied;
        if (ask)
        {
            _catchUpAskedAt = applied;
        }

        return new ReplicationAck
        {
            Partition = PartitionId,
            Epoch = Epoch,
            ReceivedSequence = applied,
            AppliedSequence = applied,
            CatchUpRequested = ask,
            Digest = TakeAnswer(),
            InstalledSnapshot = _installedSnapshot,
        };
    }
}

/// <summary>A standby's recently applied changes, as a promotion continues its log from them.</summary>
/// <param name="StartSequence">The first sequence the tail ever held (where the standby started following: changes before it were never in it).</param>
/// <param name="Entries">The retained changes, contiguous, oldest first.</param>
internal sealed record LogTail(long StartSequence, LogEntry[] Entries);
