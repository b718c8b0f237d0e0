using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// One partition on its primary: the warm item table and the commit loop that is the single
/// point where the partition's writes are validated (version / ETag), numbered with sequence
/// numbers, persisted and applied. The loop drains every queued request into one batch, so
/// concurrent writers share one store transaction (group commit).
/// </summary>
internal sealed partial class Partition
{
    // A batch stops growing at either bound, so one store transaction stays a few MiB.
    private const int MaxBatchRequests = 1024;
    private const int MaxBatchJsonBytes = 8 * 1024 * 1024;

    private readonly Channel<CommitRequest> _requests = Channel.CreateUnbounded<CommitRequest>(new() { SingleReader = true });
    private readonly IStateStore _store;
    private readonly ILogger _logger;

    // Reused by the commit loop only (single reader), so a batch allocates no dictionaries.
    private readonly List<CommitRequest> _batch = [];
    private readonly Dictionary<ItemAddress, PendingEntry> _overlay = [];
    private readonly Dictionary<ItemAddress, long> _baseVersions = [];
    private readonly List<(ItemAddress Address, bool HadPending, PendingEntry Previous)> _undo = [];
    private readonly List<StoredWrite> _storedWrites = [];

    private Task? _loop;

    // Written by the commit loop, read by diagnostics threads: a stale read is harmless there.
    private long _lastSequence;
    private volatile PartitionStatus _status = PartitionStatus.Loading;

    public Partition(int id, IStateStore store, ILogger logger)
    {
        Id = id;
        _store = store;
        _logger = logger;
    }

    public int Id { get; }

    public ItemTable Items { get; } = new();

    /// <summary>The epoch this silo leads the partition in; its store writes carry it.</summary>
    public long Epoch { get; private set; }

    public long LastSequence => Volatile.Read(ref _lastSequence);

    public PartitionStatus Status => _status;

    /// <summary>Loads the partition from the store and starts its commit loop, taking the next epoch.</summary>
    public async Task LoadAndStartAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Queues writes for the commit loop; completes when they are committed (or fails with the reason).</summary>
    public Task<IReadOnlyList<WriteResult>> CommitAsync(CommitRequest request)
    {
        if (_status != PartitionStatus.Serving || !_requests.Writer.TryWrite(request))
        {
            return Task.FromException<IReadOnlyList<WriteResult>>(Unavailable());
        }

        return request.Completion;
    }

    /// <summary>Stops taking writes, lets the queued ones finish, and ends the loop.</summary>
    public async Task StopAsync()
    {
        _requests.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _status = PartitionStatus.Stopped;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var data = await _store.LoadPartitionAsync(Id, cancellationToken).ConfigureAwait(false);
        Items.Clear();
        Items.Load(data.Items.Select(i => KeyValuePair.Create(new ItemAddress(i.Component, i.PartitionKey, i.Id), new PendingEntry(i.Version, i.Value))));
        Epoch = data.Epoch + 1;
        Volatile.Write(ref _lastSequence, data.LastSequence);
        _status = PartitionStatus.Serving;
    }

    private async Task RunAsync()
    {
        var reader = _requests.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            _batch.Clear();
            var bytes = 0;
            while (_batch.Count < MaxBatchRequests && bytes < MaxBatchJsonBytes && reader.TryRead(out var request))
            {
                _batch.Add(request);
                bytes += request.JsonBytes;
            }

            try
            {
                await CommitBatchAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A bug must not kill the loop (every later write would hang): fail this batch
                // with nothing applied, and keep serving.
                LogCommitFailed(Id, _batch.Count, ex);
                var error = Unavailable(ex);
                foreach (var request in _batch)
                {
                    request.Fail(error);
                }
            }
        }
    }

    private async Task CommitBatchAsync()
    {
        _overlay.Clear();
        _baseVersions.Clear();
        var sequence = _lastSequence;
        var accepted = 0;
        for (var i = 0; i < _batch.Count; i++)
        {
            if (Validate(_batch[i], ref sequence))
            {
                _batch[accepted++] = _batch[i];
            }
        }

        _batch.RemoveRange(accepted, _batch.Count - accepted);
        if (_overlay.Count == 0)
        {
            CompleteAll();
            return;
        }

        try
        {
            BuildStoredWrites();
            await _store.CommitAsync(Id, Epoch, sequence, _storedWrites, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await OnCommitFailedAsync(ex).ConfigureAwait(false);
            return;
        }

        Items.Apply(_overlay);
        Volatile.Write(ref _lastSequence, sequence);
        CompleteAll();
    }

    /// <summary>Checks and tentatively applies one request to the batch overlay; on a conflict, undoes it and fails the request.</summary>
    private bool Validate(CommitRequest request, ref long sequence)
    {
        _undo.Clear();
        var startSequence = sequence;
        List<VersionConflict>? conflicts = null;
        var results = new WriteResult[request.Writes.Count];
        for (var i = 0; i < request.Writes.Count; i++)
        {
            var write = request.Writes[i];
            var address = ItemAddress.From(request.Component, write.Key);
            var hadPending = _overlay.TryGetValue(address, out var pending);
            var current = hadPending ? (pending.Json is null ? 0 : pending.Version) : Items.Get(address)?.Version ?? 0;
            if (!write.Expect.IsSatisfiedBy(current))
            {
                (conflicts ??= []).Add(new VersionConflict(write.Key, write.Expect, current));
                continue;
            }

            if (write.Json is null && current == 0)
            {
                results[i] = new WriteResult(write.Key, 0, Removed: true, Changed: false, Created: false);
                continue;
            }

            sequence++;
            _undo.Add((address, hadPending, pending));
            _baseVersions.TryAdd(address, current);
            _overlay[address] = new PendingEntry(sequence, write.Json);
            results[i] = new WriteResult(write.Key, sequence, Removed: write.Json is null, Changed: true, Created: write.Json is not null && current == 0);
        }

        if (conflicts is null)
        {
            request.Results = results;
            return true;
        }

        for (var u = _undo.Count - 1; u >= 0; u--)
        {
            var (address, hadPending, previous) = _undo[u];
            if (hadPending)
            {
                _overlay[address] = previous;
            }
            else
            {
                _overlay.Remove(address);
            }
        }

        sequence = startSequence;
        request.Fail(new VersionConflictException(conflicts));
        return false;
    }

    private void BuildStoredWrites()
    {
        _storedWrites.Clear();
        foreach (var (address, pending) in _overlay)
        {
            var expected = _baseVersions[address];
            if (pending.Json is null && expected == 0)
            {
                continue; // created and removed within the batch: the store never saw it
            }

            _storedWrites.Add(new StoredWrite(address.Component, address.PartitionKey, address.Id, expected, pending.Version, pending.Json));
        }
    }

    private void CompleteAll()
    {
        foreach (var request in _batch)
        {
            request.Complete();
        }
    }

    private async Task OnCommitFailedAsync(Exception exception)
    {
        switch (exception)
        {
            case StaleEpochException fenced:
                // Another silo took the partition: stop serving it so nothing more is acknowledged here.
                _status = PartitionStatus.Fenced;
                LogFenced(Id, Epoch, fenced.StoredEpoch);
                break;
            case StoreConflictException:
                // The store no longer matches the warm copy (another writer): reload it.
                LogCommitFailed(Id, _batch.Count, exception);
                await ReloadAsync().ConfigureAwait(false);
                break;
            default:
                LogCommitFailed(Id, _batch.Count, exception);
                break;
        }

        var error = Unavailable(exception);
        foreach (var request in _batch)
        {
            request.Fail(error);
        }
    }

    private async Task ReloadAsync()
    {
        _status = PartitionStatus.Loading;
        try
        {
            await LoadAsync(CancellationToken.None).ConfigureAwait(false);
            LogReloaded(Id, Items.Count, LastSequence);
        }
        catch (Exception ex)
        {
            LogCommitFailed(Id, 0, ex);
            _status = PartitionStatus.Fenced;
        }
    }

    private ReplicaUnavailableException Unavailable(Exception? inner = null) => _status switch
    {
        PartitionStatus.Fenced => new ReplicaUnavailableException($"Partition {Id} is no longer led by this silo (fenced at epoch {Epoch}); retry to reach its current primary.", TimeSpan.FromSeconds(1), inner),
        PartitionStatus.Serving when inner is not null => new ReplicaUnavailableException($"Partition {Id} could not persist the write: {inner.Message} Nothing was applied; retry.", TimeSpan.FromSeconds(1), inner),
        _ => new ReplicaUnavailableException($"Partition {Id} is {_status.ToString().ToLowerInvariant()} on this silo; retry shortly.", TimeSpan.FromSeconds(1), inner),
    };

    [LoggerMessage(EventId = LogEvents.CommitFailed, Level = LogLevel.Error, Message = "Partition {Partition}: committing a batch of {Requests} requests failed; they were answered 'unavailable' and nothing was applied. Check the store's health.")]
    private partial void LogCommitFailed(int partition, int requests, Exception exception);

    [LoggerMessage(EventId = LogEvents.PartitionFenced, Level = LogLevel.Warning, Message = "Partition {Partition}: the store holds epoch {StoredEpoch}, above ours ({Epoch}); another silo leads it. This silo stopped serving the partition.")]
    private partial void LogFenced(int partition, long epoch, long storedEpoch);

    [LoggerMessage(EventId = LogEvents.PartitionReloaded, Level = LogLevel.Warning, Message = "Partition {Partition}: reloaded {Items} items from the store at sequence {Sequence} after a store conflict.")]
    private partial void LogReloaded(int partition, int items, long sequence);
}

/// <summary>Where a partition is in its life on this silo.</summary>
internal enum PartitionStatus
{
    Loading,
    Serving,
    Fenced,
    Stopped,
}
