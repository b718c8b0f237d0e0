using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Partitions;

/// <summary>The partitions' roles on this silo, following the partition map.</summary>
internal sealed partial class PartitionManager
{
    // Null until the first map is applied (a silo without a map, as in unit tests, leads every
    // partition); then one flag per partition. Written by ApplyRolesAsync only; read by request threads.
    private volatile bool[]? _leads;

    // Where each partition's primary is, for redirects; written with _leads.
    private volatile (string? Gateway, string? Http)[] _primaries = [];

    // ApplyRolesAsync only: the newest epoch applied per partition. Epochs only grow, so a map with
    // a lower one is stale for that partition (a read that started before a handoff's CAS landed).
    private long[] _appliedEpochs = [];

    // ApplyRolesAsync only: the primary of each partition in the newest map row followed here.
    private SiloIncarnation?[] _appliedPrimaries = [];

    // Per partition: the primary this silo took it from (null: none known) and when (Stopwatch
    // ticks); written by ApplyRolesAsync as it starts the partition, read by any thread.
    private volatile Takeover?[] _taken = [];

    /// <summary>The silo this one took <paramref name="partitionId"/> from (null when none was known) and when (Stopwatch ticks).</summary>
    public (SiloIncarnation? From, long At) TakenFrom(int partitionId) =>
        _taken is { } taken && partitionId < taken.Length && Volatile.Read(ref taken[partitionId]) is { } t ? (t.From, t.At) : default;

    /// <summary>
    /// Whether this silo has followed a partition map yet. Until then <see cref="Leads"/> is true for
    /// every partition (unit tests run without a map), but a silo in a cluster must not serve grain
    /// calls: its partitions were loaded from the store, without the primaries' newest writes.
    /// </summary>
    public bool FollowsMap => _leads is not null;

    /// <summary>Whether this silo serves partition <paramref name="partitionId"/>.</summary>
    public bool Leads(int partitionId) => _leads is not { } leads || leads[partitionId];

    /// <summary>
    /// Makes the partitions follow <paramref name="map"/>: a partition this silo now leads at a new
    /// epoch starts from this silo's warm standby copy when it has one (<see cref="Partition.StartFromWarmCopyAsync"/>),
    /// else from the store; a partition it no longer leads stops serving (queued writes finish; a
    /// deposed primary's store writes are fenced). Returns the partitions whose object was replaced.
    /// </summary>
    public async Task<IReadOnlyList<int>> ApplyRolesAsync(
        PartitionMap map,
        SiloIncarnation self,
        IReadOnlyList<SiloRecord> silos,
        Func<int, long, WarmCopy?> warmCopy,
        CancellationToken cancellationToken)
    {
        var count = _partitions.Length;
        var leads = new bool[count];
        var primaries = new (string?, string?)[count];
        var starts = new List<Task<int>>();
        if (_appliedEpochs.Length != count)
        {
            _appliedEpochs = new long[count];
            _appliedPrimaries = new SiloIncarnation?[count];
            _taken = new Takeover?[count];
        }

        for (var p = 0; p < count; p++)
        {
            var assignment = map[p];
            if (assignment is not null && assignment.Epoch < _appliedEpochs[p])
            {
                // Stale for this partition: following it would restart a partition this silo handed
                // off (at once fenced by the store) and route its writes back here. Keep the newer view.
                leads[p] = _leads is { } known && known[p];
                primaries[p] = p < _primaries.Length ? _primaries[p] : default;
                LogStaleAssignment(p, assignment.Epoch, _appliedEpochs[p]);
                continue;
            }

            _appliedEpochs[p] = Math.Max(_appliedEpochs[p], assignment?.Epoch ?? 0);
            var previousPrimary = _appliedPrimaries[p];
            _appliedPrimaries[p] = assignment?.Primary;
            var primary = assignment?.Primary is { } address ? silos.FirstOrDefault(s => s.Address == address) : null;
            primaries[p] = (primary?.GatewayEndpoint, primary?.HttpEndpoint);
            var current = _partitions[p];
            if (assignment?.Primary != self)
            {
                if (current.Status == PartitionStatus.Serving && (_leads is null || _leads[p]))
                {
                    LogDemoted(p, current.Epoch, assignment?.Primary?.ToString() ?? "(none)");
                    if (_leads is { } known)
                    {
                        known[p] = false; // no read of the old copy while it stops: the new primary may be ahead
                    }

                    await current.StopAsync(assignment?.Primary?.ToString()).ConfigureAwait(false);
                }

                continue;
            }

            var reload = current.Status == PartitionStatus.Fenced && current.StoreDiverged && current.Epoch == assignment.Epoch;
            if ((current.Status == PartitionStatus.Fenced || current.HandedOff) && current.Epoch >= assignment.Epoch && !reload)
            {
                // This silo moved the partition on (a handoff), or the store fenced it: a newer
                // epoch leads it elsewhere, and this map was read before that. Restarting it here
                // from the store would serve a stale copy beside the new primary: wait for the newer map.
                primaries[p] = p < _primaries.Length ? _primaries[p] : default;
                LogStaleAssignment(p, assignment.Epoch, current.Epoch + 1);
                continue;
            }

            leads[p] = true;
            // Not a partition loaded at this silo's start that happens to hold the same epoch: the
            // previous primary may have written since that load (nemesis seed 6006).
            if (current.Status == PartitionStatus.Serving && current.Epoch == assignment.Epoch && current.EpochClaimed)
            {
                continue;
            }

            Volatile.Write(ref _taken[p], new Takeover(previousPrimary, System.Diagnostics.Stopwatch.GetTimestamp()));
            // A partition whose store diverged from it restarts from the store, at the same epoch (only this silo writes at it).
            starts.Add(StartAsync(p, assignment.Epoch, current, reload ? static (_, _) => null : warmCopy, cancellationToken));
        }

        // Concurrently: each start reads its partition's head (or rows) from the store, and a
        // crashed silo's partitions should all serve again at the pace of the slowest, not the sum.
        var started = await Task.WhenAll(starts).ConfigureAwait(false);
        var replaced = Array.FindAll(started, p => p >= 0);
        foreach (var p in started)
        {
            if (p < 0)
            {
                leads[~p] = false; // fenced before it started: a newer map names its primary
            }
        }

        var before = _leads;
        _primaries = primaries;
        _leads = leads;
        if (LeadershipLost is { } lost)
        {
            for (var p = 0; p < count; p++)
            {
                if (!leads[p] && (before is null || before[p]))
                {
                    lost(p);
                }
            }
        }

        return replaced;
    }

    // Returns p once the new partition serves; ~p when the store holds a newer epoch than the map
    // this silo followed (another silo took it since): then nothing starts here.
    private async Task<int> StartAsync(int p, long epoch, Partition current, Func<int, long, WarmCopy?> warmCopy, CancellationToken cancellationToken)
    {
        var next = NewPartition(p, loggerFactory.CreateLogger<Partition>());
        try
        {
            var copy = warmCopy(p, epoch);
            if (copy is null && current.HandedOff)
            {
                // Handed off from here earlier, back without a standby copy: this silo's own state
                // up to the seal is one (its commit loop ends first, so the table is still).
                await current.StopAsync().ConfigureAwait(false);
                copy = current.HandedOffCopy();
            }

            if (copy is { Epoch: > 0 })
            {
                var start = await next.StartFromWarmCopyAsync(copy, epoch, cancellationToken).ConfigureAwait(false);
                LogPromoted(p, epoch, copy.Applied, next.LastSequence, start switch
                {
                    WarmStart.StoreAtCopy => "the store at the same sequence, no row read",
                    WarmStart.TailPersisted => "the store was behind: the changes it lacked persisted from the copy's tail, no row read",
                    _ => "merged with every stored row (the store was ahead, or behind by more than the copy's tail)",
                });
            }
            else
            {
                await next.LoadAndStartAsync(epoch, cancellationToken).ConfigureAwait(false);
                LogTakenCold(p, epoch, next.LastSequence);
            }
        }
        catch (Storage.StaleEpochException ex)
        {
            // What this silo had of it is older still: it serves no more either.
            LogStaleAssignment(p, epoch, ex.StoredEpoch);
            await current.StopAsync().ConfigureAwait(false);
            return ~p;
        }

        Volatile.Write(ref _partitions[p], next);
        await current.StopAsync().ConfigureAwait(false);
        return p;
    }

    private PartitionMovedException Moved(int partitionId)
    {
        var (gateway, http) = partitionId < _primaries.Length ? _primaries[partitionId] : default;
        return new PartitionMovedException(
            partitionId,
            gateway is null
                ? $"Partition {partitionId} is not led by this silo and has no live primary right now; nothing was applied. Retry shortly."
                : $"Partition {partitionId} is led by the silo at {http}, not this one; nothing was applied. Call again: the grain is placed on the primary.");
    }

    // Information: taking a partition is how a cluster starts, balances and fails over; a failure
    // itself is a warning where it is detected (the silo's death, the map's move of its partitions).
    [LoggerMessage(EventId = LogEvents.PartitionPromoted, Level = LogLevel.Debug, Message = "Partition {Partition}: this silo is its primary at epoch {Epoch}, promoted from its warm standby copy at sequence {Applied} (continuing at {LastSequence}; {Store}).")]
    private partial void LogPromoted(int partition, long epoch, long applied, long lastSequence, string store);

    [LoggerMessage(EventId = LogEvents.PartitionTakenCold, Level = LogLevel.Debug, Message = "Partition {Partition}: this silo is its primary at epoch {Epoch}, loaded from the store at sequence {LastSequence} (no warm copy here).")]
    private partial void LogTakenCold(int partition, long epoch, long lastSequence);

    [LoggerMessage(EventId = LogEvents.PartitionStaleAssignment, Level = LogLevel.Debug, Message = "Partition {Partition}: ignored a map row at epoch {Epoch}, older than epoch {Applied} already followed here (a map read that raced a handoff).")]
    private partial void LogStaleAssignment(int partition, long epoch, long applied);

    [LoggerMessage(EventId = LogEvents.PartitionDemoted, Level = LogLevel.Debug, Message = "Partition {Partition}: no longer led by this silo (was epoch {Epoch}); its primary is {Primary}. Requests here are redirected.")]
    private partial void LogDemoted(int partition, long epoch, string primary);
}

/// <summary>Where this silo took a partition from (null: not known) and when (Stopwatch ticks).</summary>
internal sealed record Takeover(SiloIncarnation? From, long At);
