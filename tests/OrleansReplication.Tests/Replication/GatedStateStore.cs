using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// A real store with a gate in front of its commits, so tests decide when persistence happens
/// (deterministically, without timing): closed, every commit waits; failing, every commit throws.
/// Loads pass straight through.
/// </summary>
internal sealed class GatedStateStore(IStateStore inner) : IStateStore
{
    private volatile TaskCompletionSource _gate = Opened();
    private int _commits;
    private int _waiting;
    private int _failures;
    private int _fullLoads;
    private int _answersToLose;

    public string ProviderName => inner.ProviderName;

    /// <summary>Commits that reached the store.</summary>
    public int Commits => Volatile.Read(ref _commits);

    /// <summary>Commits waiting at the closed gate now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Commits that failed on purpose.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Loads that read every item of a partition (not just its head).</summary>
    public int FullLoads => Volatile.Read(ref _fullLoads);

    /// <summary>Every commit that reached the store, with how hard it was asked to hold, and every sync (partition -1), in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(int Partition, long LastSequence, CommitSync Sync)> Persisted { get; } = new();

    /// <summary>When set, every commit throws (a store outage).</summary>
    public bool Failing { get; set; }

    /// <summary>The next <paramref name="count"/> commits land in the store, then throw as if the connection broke before the answer came.</summary>
    public void LoseAnswers(int count) => Volatile.Write(ref _answersToLose, count);

    public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open() => _gate.TrySetResult();

    public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

    public Task<int> GetOrSetPartitionCountAsync(int proposed, CancellationToken cancellationToken) => inner.GetOrSetPartitionCountAsync(proposed, cancellationToken);

    public Task<PartitionData> LoadPartitionAsync(int partitionId, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _fullLoads);
        return inner.LoadPartitionAsync(partitionId, cancellationToken);
    }

    public Task<PartitionData> LoadPartitionHeadAsync(int partitionId, CancellationToken cancellationToken) => inner.LoadPartitionHeadAsync(partitionId, cancellationToken);

    public Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken) =>
        CommitAsync(partitionId, epoch, lastSequence, writes, RequestRecords.None, cancellationToken);

    public Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CancellationToken cancellationToken) =>
        CommitAsync(partitionId, epoch, lastSequence, writes, requests, CommitSync.Disk, cancellationToken);

    public async Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CommitSync sync, CancellationToken cancellationToken)
    {
        var gate = _gate;
        if (!gate.Task.IsCompleted)
        {
            Interlocked.Increment(ref _waiting);
            try
            {
                await gate.Task.WaitAsync(cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        if (Failing)
        {
            Interlocked.Increment(ref _failures);
            throw new InvalidOperationException("Injected store failure.");
        }

        await inner.CommitAsync(partitionId, epoch, lastSequence, writes, requests, sync, cancellationToken);
        Persisted.Enqueue((partitionId, lastSequence, sync));
        Interlocked.Increment(ref _commits);
        if (Volatile.Read(ref _answersToLose) > 0 && Interlocked.Decrement(ref _answersToLose) >= 0)
        {
            throw new IOException("Injected: the connection broke after the commit reached the store, before its answer.");
        }
    }

    public Task<int> RepairAsync(int partitionId, long epoch, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken) =>
        inner.RepairAsync(partitionId, epoch, writes, cancellationToken);

    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        await inner.SyncAsync(cancellationToken);
        Persisted.Enqueue((-1, 0, CommitSync.Disk));
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
