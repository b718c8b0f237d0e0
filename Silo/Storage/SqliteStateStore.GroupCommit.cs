using Microsoft.Data.Sqlite;
using static OrleansReplication.Silo.Storage.SqliteConnections;

namespace OrleansReplication.Silo.Storage;

/// <summary>
/// Group commit across partitions. SQLite has one writer per file, so the silo's partitions commit
/// one at a time; the flushes that queue meanwhile go into the next transaction together, each in
/// its own savepoint. One transaction, one WAL sync and one write lock then serve many partitions,
/// and a fenced or conflicting partition rolls back its savepoint alone.
/// </summary>
internal sealed partial class SqliteStateStore
{
    private readonly Lock _groupLock = new();
    private List<PendingCommit> _queuedCommits = [];
    private bool _groupRunning;

    /// <summary>Whether a group is being committed now (diagnostics and tests).</summary>
    internal bool GroupRunning
    {
        get
        {
            lock (_groupLock)
            {
                return _groupRunning;
            }
        }
    }

    /// <summary>Flushes waiting for the group in progress (diagnostics and tests).</summary>
    internal int QueuedCommits
    {
        get
        {
            lock (_groupLock)
            {
                return _queuedCommits.Count;
            }
        }
    }

    /// <summary>The most flushes one transaction has carried so far (diagnostics and tests).</summary>
    internal int LargestGroup { get; private set; }

    /// <inheritdoc />
    /// <remarks>
    /// A group is synced (<c>synchronous = FULL</c>) when any commit in it asks for
    /// <see cref="CommitSync.Disk"/>; otherwise its WAL frames are written but not synced
    /// (<c>NORMAL</c>): a crash of the process keeps them (they are in the OS's cache), a power
    /// loss may not, and the next synced commit syncs every frame before it (one WAL file).
    /// </remarks>
    public async Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CommitSync sync, CancellationToken cancellationToken)
    {
        StoredWriteRules.ValidateCommit(partitionId, writes);
        cancellationToken.ThrowIfCancellationRequested();
        var commit = new PendingCommit(partitionId, epoch, lastSequence, writes, requests, sync, cancellationToken);
        bool lead;
        lock (_groupLock)
        {
            _queuedCommits.Add(commit);
            lead = !_groupRunning;
            _groupRunning = true;
        }

        if (lead)
        {
            await RunGroupAsync().ConfigureAwait(false);
        }

        await commit.Completion.Task.ConfigureAwait(false);
    }

    // Runs what is queued as one group; what queues meanwhile runs next on a pool thread, so the
    // caller that led this group gets its own result now instead of serving everyone after it.
    private async Task RunGroupAsync()
    {
        List<PendingCommit> group;
        lock (_groupLock)
        {
            group = _queuedCommits;
            _queuedCommits = [];
        }

        await CommitGroupAsync(group).ConfigureAwait(false);
        lock (_groupLock)
        {
            if (_queuedCommits.Count == 0)
            {
                _groupRunning = false;
                return;
            }
        }

        _ = Task.Run(RunGroupAsync);
    }

    /// <summary>Commits a group in one transaction; completes or fails every commit in it, and never throws.</summary>
    private async Task CommitGroupAsync(List<PendingCommit> group)
    {
        var committed = new List<PendingCommit>(group.Count);
        LargestGroup = Math.Max(LargestGroup, group.Count); // one group runs at a time
        try
        {
            await using var connection = await OpenAsync(CancellationToken.None).ConfigureAwait(false);
            if (!group.Exists(c => c.Sync == CommitSync.Disk))
            {
                // Opened at FULL (SqliteConnections): lowered for this group only.
                await using var pragma = Command(connection, null, "PRAGMA synchronous = NORMAL");
                await pragma.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }

            // Disposing the transaction without a commit rolls it back: a throw below persists nothing.
            await using var transaction = connection.BeginTransaction(deferred: false);
            await using (var statements = new SqliteCommitStatements(connection, transaction))
            {
                for (var i = 0; i < group.Count; i++)
                {
                    var commit = group[i];
                    if (commit.CancellationToken.IsCancellationRequested)
                    {
                        commit.Completion.TrySetCanceled(commit.CancellationToken);
                        continue;
                    }

                    var savepoint = "p" + commit.PartitionId;
                    transaction.Save(savepoint);
                    try
                    {
                        await ApplyCommitAsync(connection, transaction, statements, commit).ConfigureAwait(false);
                        transaction.Release(savepoint);
                        committed.Add(commit);
                    }
                    catch (Exception ex) when (ex is StaleEpochException or StoreConflictException)
                    {
                        // This partition alone is fenced or diverged: undo its rows, keep the others'.
                        transaction.Rollback(savepoint);
                        transaction.Release(savepoint);
                        commit.Completion.TrySetException(ex);
                    }
                }
            }

            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The transaction failed as a whole (busy, I/O): nothing of the group persisted.
            foreach (var commit in group)
            {
                commit.Completion.TrySetException(ex);
            }

            return;
        }

        foreach (var commit in committed)
        {
            commit.Completion.TrySetResult();
        }
    }

    private static async Task ApplyCommitAsync(SqliteConnection connection, SqliteTransaction transaction, SqliteCommitStatements statements, PendingCommit commit)
    {
        if (!statements.Fence(commit.PartitionId, commit.Epoch, commit.LastSequence))
        {
            var (storedEpoch, storedSequence) = await ReadPartitionHeadAsync(connection, transaction, commit.PartitionId, CancellationToken.None).ConfigureAwait(false);
            throw new StaleEpochException(commit.PartitionId, commit.Epoch, storedEpoch, commit.LastSequence, storedSequence);
        }

        foreach (var write in commit.Writes)
        {
            if (!statements.Apply(commit.PartitionId, write))
            {
                var actual = await ReadVersionAsync(connection, transaction, write, CancellationToken.None).ConfigureAwait(false);
                throw new StoreConflictException(commit.PartitionId, write.Component, write.PartitionKey, write.Id, write.ExpectedVersion, actual);
            }
        }

        if (!commit.Requests.IsEmpty)
        {
            await RecordRequestsAsync(connection, transaction, commit.PartitionId, commit.Requests, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>One partition's flush, waiting for its group.</summary>
    private sealed class PendingCommit(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CommitSync sync, CancellationToken cancellationToken)
    {
        public int PartitionId { get; } = partitionId;

        public long Epoch { get; } = epoch;

        public long LastSequence { get; } = lastSequence;

        public IReadOnlyList<StoredWrite> Writes { get; } = writes;

        public RequestRecords Requests { get; } = requests;

        public CommitSync Sync { get; } = sync;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // Asynchronous continuations: the group's thread completes every flush, then moves on.
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
