using Microsoft.Extensions.Logging;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// The home of the partitions on this silo: loads them from the store at start, follows the
/// partition map (<c>PartitionManager.Roles.cs</c>), routes every read and write to its partition
/// (or answers where it moved), and splits multi-partition calls (atomic per partition).
/// </summary>
internal sealed partial class PartitionManager(IStateStore store, ILoggerFactory loggerFactory)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<PartitionManager>();
    private readonly ReplicationOptions _replication = new();
    private Partition[] _partitions = [];

    /// <summary>Creates the manager with explicit replication and write-behind bounds.</summary>
    public PartitionManager(IStateStore store, ILoggerFactory loggerFactory, ReplicationOptions replication)
        : this(store, loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(replication);
        _replication = replication;
    }

    public int PartitionCount => _partitions.Length;

    public IReadOnlyList<Partition> Partitions => _partitions;

    public bool IsReady { get; private set; }

    public async Task StartAsync(int proposedPartitionCount, CancellationToken cancellationToken)
    {
        var count = await store.GetOrSetPartitionCountAsync(proposedPartitionCount, cancellationToken).ConfigureAwait(false);
        if (count != proposedPartitionCount)
        {
            LogPartitionCountFixed(count, proposedPartitionCount);
        }

        var partitionLogger = loggerFactory.CreateLogger<Partition>();
        var partitions = new Partition[count];
        for (var i = 0; i < count; i++)
        {
            partitions[i] = NewPartition(i, partitionLogger);
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(partitions, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, (p, ct) => new ValueTask(p.LoadAndStartAsync(ct))).ConfigureAwait(false);
        _partitions = partitions;
        IsReady = true;
        LogLoaded(count, partitions.Sum(p => p.Items.Count), (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task StopAsync()
    {
        IsReady = false;
        await Task.WhenAll(_partitions.Select(p => p.StopAsync())).ConfigureAwait(false);
        foreach (var partition in _partitions)
        {
            partition.FailHeld(new ReplicaUnavailableException($"Partition {partition.Id} stopped on this silo during a handoff; nothing of the request was applied. Retry.", TimeSpan.FromMilliseconds(200)));
        }
    }

    public int GetPartitionId(string component, ItemKey key) =>
        PartitionHasher.GetPartition(component, key.EffectivePartitionKey, _partitions.Length);

    public JsonItem? Get(string component, ItemKey key)
    {
        var entry = Route(component, key).Items.Get(ItemAddress.From(component, key));
        return entry is null ? null : new JsonItem(key, entry.Version, entry.Json);
    }

    /// <summary>Reads items of one partition this silo leads (the keys are that partition's), keeping their order.</summary>
    public JsonItem[] Get(int partitionId, string component, IReadOnlyList<ItemKey> keys)
    {
        var items = Partition(partitionId).Items;
        var found = new List<JsonItem>(keys.Count);
        foreach (var key in keys)
        {
            if (items.Get(ItemAddress.From(component, key)) is { } entry)
            {
                found.Add(new JsonItem(key, entry.Version, entry.Json));
            }
        }

        return [.. found];
    }

    /// <summary>Commits writes of one partition (the writes are that partition's) atomically.</summary>
    public Task<IReadOnlyList<WriteResult>> CommitAsync(int partitionId, string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, RequestKey? key) =>
        writes.Count == 0
            ? Task.FromResult<IReadOnlyList<WriteResult>>([])
            : PartitionForWrite(partitionId).CommitAsync(new CommitRequest(component, writes, safety, key));

    /// <summary>One page of one partition's items of a component, in listing order, after a listing cursor.</summary>
    public PartitionPage List(int partitionId, string component, string? afterCursor, int limit)
    {
        ListingKey? after = string.IsNullOrEmpty(afterCursor) ? null : ListingKey.FromCursor(afterCursor);
        var candidates = new List<(ListingKey Key, ItemEntry Entry)>();
        Partition(partitionId).Items.CollectAfter(component, after, limit + 1, candidates);
        var more = candidates.Count > limit;
        var count = Math.Min(limit, candidates.Count);
        var items = new JsonItem[count];
        for (var i = 0; i < count; i++)
        {
            var (key, entry) = candidates[i];
            items[i] = new JsonItem(new ItemKey(key.Id, key.PartitionKey.Length == 0 ? null : key.PartitionKey), entry.Version, entry.Json);
        }

        return new PartitionPage(items, more);
    }

    /// <summary>Throws <see cref="PartitionMovedException"/> unless this silo leads <paramref name="partitionId"/> now.</summary>
    public void EnsureLeads(int partitionId) => _ = Partition(partitionId);

    public Task<IReadOnlyList<WriteResult>> ApplyAsync(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, CancellationToken cancellationToken) =>
        ApplyAsync(component, writes, safety, null, cancellationToken);

    /// <summary>Called with a partition's id when this silo stops leading it (its activations deactivate).</summary>
    public Action<int>? LeadershipLost { get; set; }

    /// <summary>Called with what anti-entropy found and repaired on a partition this silo leads (any thread).</summary>
    public Action<AntiEntropy.AntiEntropyReport>? AntiEntropyReported { get; set; }

    /// <summary>Called with a partition's id and epoch when a standby refused it for a newer epoch: this silo was deposed without handing it off (any thread).</summary>
    public Action<int, long>? PartitionDeposed { get; set; }

    private Partition NewPartition(int id, ILogger<Partition> logger) =>
        new(id, store, logger, _replication) { AntiEntropyReported = report => AntiEntropyReported?.Invoke(report), Deposed = (p, epoch) => PartitionDeposed?.Invoke(p, epoch) };

    /// <summary>
    /// Applies writes (atomic per partition) under an optional idempotency id: a retry with the
    /// same id gets the first attempt's results from each partition that applied its part,
    /// without applying again (within the partitions' retention, <see cref="ReplicationOptions.RequestRetention"/>).
    /// </summary>
    public Task<IReadOnlyList<WriteResult>> ApplyAsync(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, RequestKey? key, CancellationToken cancellationToken)
    {
        if (writes.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<WriteResult>>([]);
        }

        var first = GetPartitionId(component, writes[0].Key);
        var single = true;
        for (var i = 1; i < writes.Count && single; i++)
        {
            single = GetPartitionId(component, writes[i].Key) == first;
        }

        return single
            ? PartitionForWrite(first).CommitAsync(new CommitRequest(component, writes, safety, key))
            : ApplyAcrossPartitionsAsync(component, writes, safety, key);
    }

    /// <summary>One page of a component's items in listing order, merged across partitions.</summary>
    public (List<(ListingKey Key, ItemEntry Entry)> Items, string? NextCursor) List(string component, string? afterCursor, int limit)
    {
        ListingKey? after = string.IsNullOrEmpty(afterCursor) ? null : ListingKey.FromCursor(afterCursor);
        var candidates = new List<(ListingKey Key, ItemEntry Entry)>();
        for (var p = 0; p < _partitions.Length; p++)
        {
            // Only partitions served here: a listing on a silo that leads some partitions lists those.
            if (!Leads(p))
            {
                continue;
            }

            Volatile.Read(ref _partitions[p]).Items.CollectAfter(component, after, limit + 1, candidates);
        }

        candidates.Sort(static (a, b) => a.Key.CompareTo(b.Key));
        var more = candidates.Count > limit;
        if (more)
        {
            candidates.RemoveRange(limit, candidates.Count - limit);
        }

        return (candidates, more ? candidates[^1].Key.ToCursor() : null);
    }

    private Partition Partition(int id)
    {
        if (_partitions.Length == 0)
        {
            throw new ReplicaUnavailableException("The silo is still loading its partitions; retry shortly.", TimeSpan.FromSeconds(1));
        }

        // Handed off, but this silo has not followed the new map yet: its new primary may have
        // committed past this copy, so reading it would be stale.
        return Leads(id) && Volatile.Read(ref _partitions[id]) is { HandedOff: false } partition ? partition : throw Moved(id);
    }

    // A partition sealed for a handoff holds writes until its new primary serves (then redirects
    // them there), also after this silo followed the new map: a redirect sooner could bounce.
    private Partition PartitionForWrite(int id) =>
        _partitions.Length > 0 && Volatile.Read(ref _partitions[id]) is { HoldsForHandoff: true } handingOff
            ? handingOff
            : Partition(id);

    private Partition Route(string component, ItemKey key) =>
        _partitions.Length > 0
            ? Partition(GetPartitionId(component, key))
            : throw new ReplicaUnavailableException("The silo is still loading its partitions; retry shortly.", TimeSpan.FromSeconds(1));

    private async Task<IReadOnlyList<WriteResult>> ApplyAcrossPartitionsAsync(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, RequestKey? key)
    {
        // Group by partition, remembering each write's place so results keep the caller's order.
        var groups = new Dictionary<int, (List<ItemWriteData> Writes, List<int> Positions)>();
        for (var i = 0; i < writes.Count; i++)
        {
            var id = GetPartitionId(component, writes[i].Key);
            if (!groups.TryGetValue(id, out var group))
            {
                group = ([], []);
                groups[id] = group;
            }

            group.Writes.Add(writes[i]);
            group.Positions.Add(i);
        }

        var tasks = groups.Select(g => (g.Value.Positions, Task: PartitionForWrite(g.Key).CommitAsync(new CommitRequest(component, g.Value.Writes, safety, key)))).ToList();
        try
        {
            await Task.WhenAll(tasks.Select(t => t.Task)).ConfigureAwait(false);
        }
        catch
        {
            // Examined below, per partition.
        }

        var results = new WriteResult[writes.Count];
        List<VersionConflict>? conflicts = null;
        List<WriteResult>? applied = null;
        Exception? other = null;
        foreach (var (positions, task) in tasks)
        {
            if (task.IsCompletedSuccessfully)
            {
                for (var i = 0; i < positions.Count; i++)
                {
                    results[positions[i]] = task.Result[i];
                }

                (applied ??= []).AddRange(task.Result);
            }
            else if (task.Exception?.InnerException is VersionConflictException conflict)
            {
                (conflicts ??= []).AddRange(conflict.Conflicts);
            }
            else
            {
                other ??= task.Exception?.InnerException;
            }
        }

        if (conflicts is not null)
        {
            throw new VersionConflictException(conflicts, applied);
        }

        return other is not null ? throw other : results;
    }

    [LoggerMessage(EventId = LogEvents.PartitionsLoaded, Level = LogLevel.Information, Message = "Loaded {Partitions} partitions ({Items} items) from the store in {ElapsedMs} ms.")]
    private partial void LogLoaded(int partitions, int items, long elapsedMs);

    [LoggerMessage(EventId = LogEvents.StoreOpened, Level = LogLevel.Warning, Message = "The cluster was created with {Stored} partitions; the configured {Configured} is ignored (the partition count is fixed for the cluster's life).")]
    private partial void LogPartitionCountFixed(int stored, int configured);
}
