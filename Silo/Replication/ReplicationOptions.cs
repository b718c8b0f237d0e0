using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Bounds of the replication stream and of write-behind persistence, per partition
/// (configuration section <c>Replication</c>). Every queue a slow standby or a slow store could
/// grow is bounded by one of these.
/// </summary>
public sealed class ReplicationOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Replication";

    /// <summary>How many persisted changes the primary keeps for standbys that fall behind; older ones are caught up by snapshot.</summary>
    /// <value>Defaults to 65,536 changes.</value>
    public int LogRetainedChanges { get; set; } = 65_536;

    /// <summary>How many bytes of persisted changes the primary keeps for standbys that fall behind.</summary>
    /// <value>Defaults to 64 MiB.</value>
    public long LogRetainedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How many applied changes may wait for the store before the commit loop stops taking writes
    /// until the store catches up (back-pressure on writers instead of unbounded memory).
    /// </summary>
    /// <value>Defaults to 262,144 changes.</value>
    public int MaxUnpersistedChanges { get; set; } = 262_144;

    /// <summary>
    /// <see cref="MaxUnpersistedChanges"/> while no standby is in sync. Writes at Applied then wait
    /// for the store, behind every change not yet persisted: a burst of Local writes (e.g. a bulk
    /// load) left 1,000,000 changes (8 s of commits) in front of them, and writes all but stopped
    /// while a joining standby caught up. The silo's partitions commit one at a time, so a write can
    /// wait behind every partition's backlog: a quarter of a flush each keeps that wait short.
    /// </summary>
    /// <value>Defaults to 4,096 changes.</value>
    public int MaxUnpersistedChangesWithoutStandby { get; set; } = 4_096;

    /// <summary>How many bytes of applied changes may wait for the store; see <see cref="MaxUnpersistedChanges"/>.</summary>
    /// <value>Defaults to 256 MiB.</value>
    public long MaxUnpersistedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Most changes in one store transaction of the write-behind persister.</summary>
    /// <value>Defaults to 16,384 changes.</value>
    public int FlushMaxChanges { get; set; } = 16_384;

    /// <summary>Most bytes in one store transaction of the write-behind persister (the transaction stays a few MiB).</summary>
    /// <value>Defaults to 8 MiB.</value>
    public long FlushMaxBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>
    /// How long the write-behind persister gathers changes before a store transaction when nothing
    /// waits for the store (no Durable write, and an in-sync standby carries Applied): one commit
    /// (and one fsync) per partition per gather instead of one per write. Durable writes, writes
    /// with no in-sync standby, a growing backlog and a stop flush at once. Zero flushes as soon as there is work.
    /// </summary>
    /// <value>Defaults to 20 ms.</value>
    public TimeSpan PersistGatherDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The first wait before retrying a failed store commit; doubled per failure up to <see cref="PersistRetryMaxDelay"/>.</summary>
    /// <value>Defaults to 100 ms.</value>
    public TimeSpan PersistRetryInitialDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest wait between retries of a failed store commit: once the store is back, writes
    /// waiting for it (<c>Durable</c>, or any with no in-sync standby) resume within this long.
    /// </summary>
    /// <value>Defaults to 1 s (one attempt per second per partition while the store is down).</value>
    public TimeSpan PersistRetryMaxDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a <see cref="SafetyLevel.Durable"/> write waits for the store before it fails with
    /// <see cref="StoreUnavailableException"/> (HTTP 503 with Retry-After): a store outage fails such
    /// writes fast instead of holding every caller. The write may still become durable; a retry
    /// with its idempotency id tells. Keep it under the clients' attempt timeout (5 s), or they
    /// give up first with an unknown outcome. <see cref="Timeout.InfiniteTimeSpan"/>: wait as long as it takes.
    /// </summary>
    public TimeSpan DurableWriteTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a graceful stop waits for the store to take every applied change before giving up (and failing the writes still waiting).</summary>
    /// <value>Defaults to 30 s.</value>
    public TimeSpan StopFlushTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most records queued to one standby. A live batch that does not fit marks the standby out
    /// of sync (it leaves the safety-level quorum and is caught up from the log or by snapshot).
    /// </summary>
    /// <value>Defaults to 1,024 records.</value>
    public int LinkQueueRecords { get; set; } = 1024;

    /// <summary>Most bytes queued to one standby; see <see cref="LinkQueueRecords"/>.</summary>
    /// <value>Defaults to 32 MiB.</value>
    public long LinkQueueBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>
    /// How long an in-sync standby may leave a change unacknowledged before it is marked out of
    /// sync (so a stalled standby whose queue is not full cannot hold writes forever).
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns the check off.
    /// </summary>
    /// <value>Defaults to 5 s: the longest a silently stalled standby can hold writes, about a failure detector's probe period.</value>
    public TimeSpan MaxAckDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a replication call to a standby may stay unanswered before the standby's silo port
    /// is checked: a refused connection means its process is gone, and it is declared dead through
    /// Orleans at once (Orleans does not fail calls sent over a connection that closed, and its
    /// probes take about a second). A live or paused silo accepts the connection and nothing
    /// happens. <see cref="Timeout.InfiniteTimeSpan"/> leaves detection to Orleans' probes alone.
    /// </summary>
    /// <value>Defaults to 100 ms: far beyond a replication batch's round trip.</value>
    public TimeSpan UnansweredCallCheckDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Most changes in one catch-up batch read from the log.</summary>
    /// <value>Defaults to 1,024 changes.</value>
    public int CatchUpBatchChanges { get; set; } = 1024;

    /// <summary>Most bytes in one catch-up batch or snapshot chunk.</summary>
    /// <value>Defaults to 1 MiB.</value>
    public int CatchUpBatchBytes { get; set; } = 1024 * 1024;

    /// <summary>Most items in one snapshot chunk.</summary>
    /// <value>Defaults to 512 items.</value>
    public int SnapshotChunkItems { get; set; } = 512;

    /// <summary>
    /// Most write requests with an idempotency id that a partition remembers (on its primary, its
    /// standbys and in the store); the oldest are forgotten first. A retry is answered from the
    /// first attempt only while its request is remembered: within <see cref="RequestRetention"/>
    /// and before the partition records this many newer requests.
    /// </summary>
    /// <value>Defaults to 8,192 requests per partition (a few MiB).</value>
    public int RequestsRetained { get; set; } = 8192;

    /// <summary>How long a partition remembers a write request with an idempotency id; see <see cref="RequestsRetained"/>.</summary>
    /// <value>Defaults to 5 minutes.</value>
    public TimeSpan RequestRetention { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Anti-entropy: background comparison of replicas and the store by clump hashes (section <c>Replication:AntiEntropy</c>).</summary>
    public AntiEntropyOptions AntiEntropy { get; set; } = new();
}

/// <summary>Checks <see cref="ReplicationOptions"/>, naming every setting to fix.</summary>
internal sealed class ReplicationOptionsValidator : IValidateOptions<ReplicationOptions>
{
    public ValidateOptionsResult Validate(string? name, ReplicationOptions options)
    {
        var failures = new List<string>();
        Positive(failures, nameof(options.LogRetainedChanges), options.LogRetainedChanges);
        Positive(failures, nameof(options.LogRetainedBytes), options.LogRetainedBytes);
        Positive(failures, nameof(options.MaxUnpersistedChanges), options.MaxUnpersistedChanges);
        Positive(failures, nameof(options.MaxUnpersistedChangesWithoutStandby), options.MaxUnpersistedChangesWithoutStandby);
        Positive(failures, nameof(options.MaxUnpersistedBytes), options.MaxUnpersistedBytes);
        Positive(failures, nameof(options.FlushMaxChanges), options.FlushMaxChanges);
        Positive(failures, nameof(options.FlushMaxBytes), options.FlushMaxBytes);
        Positive(failures, nameof(options.LinkQueueRecords), options.LinkQueueRecords);
        Positive(failures, nameof(options.LinkQueueBytes), options.LinkQueueBytes);
        Positive(failures, nameof(options.CatchUpBatchChanges), options.CatchUpBatchChanges);
        Positive(failures, nameof(options.CatchUpBatchBytes), options.CatchUpBatchBytes);
        Positive(failures, nameof(options.SnapshotChunkItems), options.SnapshotChunkItems);
        Positive(failures, nameof(options.RequestsRetained), options.RequestsRetained);
        if (options.RequestRetention < TimeSpan.FromSeconds(1) || options.RequestRetention > TimeSpan.FromDays(7))
        {
            failures.Add($"Replication:RequestRetention is {options.RequestRetention}; use 1 second to 7 days (clients must retry a write within it to keep it exactly-once).");
        }
        if (options.PersistRetryInitialDelay <= TimeSpan.Zero || options.PersistRetryMaxDelay < options.PersistRetryInitialDelay)
        {
            failures.Add($"Replication:PersistRetryInitialDelay ({options.PersistRetryInitialDelay}) must be positive and at most Replication:PersistRetryMaxDelay ({options.PersistRetryMaxDelay}).");
        }

        if (options.PersistGatherDelay < TimeSpan.Zero || options.PersistGatherDelay > TimeSpan.FromSeconds(10))
        {
            failures.Add($"Replication:PersistGatherDelay is {options.PersistGatherDelay}; use 0 to 10 seconds (it bounds how far the store lags the standbys at Applied).");
        }

        if (options.StopFlushTimeout <= TimeSpan.Zero && options.StopFlushTimeout != Timeout.InfiniteTimeSpan)
        {
            failures.Add($"Replication:StopFlushTimeout is {options.StopFlushTimeout}; use a positive time.");
        }

        if (options.DurableWriteTimeout <= TimeSpan.Zero && options.DurableWriteTimeout != Timeout.InfiniteTimeSpan)
        {
            failures.Add($"Replication:DurableWriteTimeout is {options.DurableWriteTimeout}; use a positive time, or -00:00:00.001 (infinite) to wait for the store as long as it takes.");
        }

        if (options.MaxAckDelay <= TimeSpan.Zero && options.MaxAckDelay != Timeout.InfiniteTimeSpan)
        {
            failures.Add($"Replication:MaxAckDelay is {options.MaxAckDelay}; use a positive time, or -00:00:00.001 (infinite) to turn the check off.");
        }

        if (options.UnansweredCallCheckDelay <= TimeSpan.Zero && options.UnansweredCallCheckDelay != Timeout.InfiniteTimeSpan)
        {
            failures.Add($"Replication:UnansweredCallCheckDelay is {options.UnansweredCallCheckDelay}; use a positive time, or -00:00:00.001 (infinite) to leave failure detection to Orleans' probes.");
        }

        ValidateAntiEntropy(failures, options.AntiEntropy);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateAntiEntropy(List<string> failures, AntiEntropyOptions? options)
    {
        if (options is null)
        {
            failures.Add("Replication:AntiEntropy is missing; leave it out for the defaults, or set Replication:AntiEntropy:Clumps to 0 to turn anti-entropy off.");
            return;
        }

        if (options.Clumps is < 0 or > 65_536)
        {
            failures.Add($"Replication:AntiEntropy:Clumps is {options.Clumps}; use 1 to 65,536 (the same on every silo), or 0 to turn anti-entropy off.");
        }

        foreach (var (setting, interval) in new[] { ("CheckInterval", options.CheckInterval), ("StoreCheckInterval", options.StoreCheckInterval) })
        {
            if (interval < TimeSpan.FromMilliseconds(10) && interval != Timeout.InfiniteTimeSpan)
            {
                failures.Add($"Replication:AntiEntropy:{setting} is {interval}; use at least 10 ms, or -00:00:00.001 (infinite) for never.");
            }
        }

        if (options.MaxRepairsInARow < 1)
        {
            failures.Add($"Replication:AntiEntropy:MaxRepairsInARow is {options.MaxRepairsInARow}; use a positive number.");
        }
    }

    /// <summary>Throws with every failure when <paramref name="options"/> is invalid (for code that builds options without the host).</summary>
    public static void ThrowIfInvalid(ReplicationOptions options)
    {
        var result = new ReplicationOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(nameof(ReplicationOptions), typeof(ReplicationOptions), result.Failures);
        }
    }

    private static void Positive(List<string> failures, string setting, long value)
    {
        if (value <= 0)
        {
            failures.Add($"Replication:{setting} is {value}; use a positive number.");
        }
    }
}
