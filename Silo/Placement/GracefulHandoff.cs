using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Placement;

/// <summary>
/// Drains this silo (seed 002 "promote the buddy, demote the primary"; seed 003 rolling update):
/// per partition it leads, seal the partition at sequence N, wait until an in-sync standby applied
/// exactly N (and, if Durable writes wait, the store has N), move the primary by the
/// map's compare-and-swap, and wait until the standby serves. Requests that arrive meanwhile are
/// held, then redirected to it: none fails. A handoff that cannot finish is undone and retried.
/// Runs beside the map loop (one round of handoffs at a time), so the loop stays free to follow
/// the map for peers that hand partitions to this silo meanwhile.
/// </summary>
internal sealed partial class GracefulHandoff(
    PartitionManager partitions,
    PartitionMapManager partitionMap,
    PartitionMapNotifier notifier,
    SiloIdentity identity,
    ILogger<GracefulHandoff> logger)
{
    // Bounds of one partition's handoff: how long requests may be held while the standby catches up.
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FollowTimeout = TimeSpan.FromSeconds(10);
    private const int Parallelism = 4;

    private readonly ILogger _logger = logger;
    private Task _running = Task.CompletedTask;

    /// <summary>
    /// Starts handing off <paramref name="planned"/> (rows of <paramref name="map"/> with a new
    /// primary) unless a round is still running; the map loop is nudged when it ends.
    /// </summary>
    public void Start(PartitionMap map, IReadOnlyList<PartitionAssignment> planned, MembershipSnapshot membership, CancellationToken cancellationToken)
    {
        if (planned.Count == 0 || !_running.IsCompleted)
        {
            return;
        }

        _running = Task.Run(async () =>
        {
            try
            {
                await HandOffAsync(map, planned, membership, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            finally
            {
                notifier.Changed.Set();
            }
        }, CancellationToken.None);
    }

    /// <summary>Completes when no handoff round runs (the silo is stopping).</summary>
    public Task WaitIdleAsync() => _running;

    /// <summary>Whether no round of handoffs is under way.</summary>
    public bool IsIdle => _running.IsCompleted;

    /// <summary>A drain's handoffs: every partition <paramref name="map"/> says this silo leads, to an in-sync standby on an active silo.</summary>
    public IReadOnlyList<PartitionAssignment> PlanDrain(PartitionMap map, MembershipSnapshot membership)
    {
        var active = membership.Active;
        var planned = new List<PartitionAssignment>();
        foreach (var assignment in map.LedBy(identity.Address))
        {
            var partition = partitions.Partitions[assignment.PartitionId];
            var target = assignment.Standbys.FirstOrDefault(s => active.Any(a => a.Address == s) && partition.Links.Any(l => l.InSync && l.Name == s.ToString()));
            if (target == default)
            {
                LogNoTarget(assignment.PartitionId, identity.Address.ToString());
                continue;
            }

            planned.Add(PartitionMapManager.DrainRow(assignment, target));
        }

        return planned;
    }

    private async Task<int> HandOffAsync(PartitionMap map, IReadOnlyList<PartitionAssignment> planned, MembershipSnapshot membership, CancellationToken cancellationToken)
    {
        var moved = 0;
        await Parallel.ForEachAsync(planned, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (next, ct) =>
        {
            if (map[next.PartitionId] is { } current && await HandOffAsync(current, next, membership, ct).ConfigureAwait(false))
            {
                Interlocked.Increment(ref moved);
            }
        }).ConfigureAwait(false);
        return moved;
    }

    private async Task<bool> HandOffAsync(PartitionAssignment assignment, PartitionAssignment next, MembershipSnapshot membership, CancellationToken cancellationToken)
    {
        var id = assignment.PartitionId;
        var partition = partitions.Partitions[id];
        var target = next.Primary!.Value;
        var record = membership.Active.FirstOrDefault(a => a.Address == target);
        // A round planned on a map read before an earlier round's move finds the partition handed off already.
        if (partition.Status != PartitionStatus.Serving || partition.HandedOff || partition.Epoch != assignment.Epoch || assignment.Primary != identity.Address || record is null)
        {
            return false;
        }

        var started = Stopwatch.GetTimestamp();
        long sealedAt;
        try
        {
            sealedAt = await partition.SealAsync().WaitAsync(CatchUpTimeout, cancellationToken).ConfigureAwait(false);
            if (!await CaughtUpAsync(partition, target.ToString(), sealedAt, cancellationToken).ConfigureAwait(false))
            {
                partition.Unseal();
                LogAborted(id, target.ToString(), sealedAt, "the standby did not apply the sealed sequence (or the store did not persist it) in time");
                return false;
            }

            if (!await partitionMap.TryHandOffAsync(next, cancellationToken).ConfigureAwait(false))
            {
                partition.Unseal();
                LogAborted(id, target.ToString(), sealedAt, "another silo changed the partition's row first");
                return false;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            partition.Unseal();
            LogAborted(id, target.ToString(), 0, ex.Message);
            return false;
        }

        // Past the compare-and-swap the partition is the standby's, with every change up to the
        // seal: writes waiting for acks up to there are safe, and reads here stop. Wait until it
        // serves, so the held requests are redirected to a primary that takes them.
        partition.MarkHandedOff(sealedAt);
        if (!await notifier.NotifyAsync(record, FollowTimeout, cancellationToken).ConfigureAwait(false))
        {
            LogTargetSlow(id, target.ToString(), (long)FollowTimeout.TotalMilliseconds);
        }

        partition.FailHeld(new PartitionMovedException(id, $"Partition {id} was handed off to the silo at {record.HttpEndpoint}; nothing was applied. Call again: the grain is placed on the new primary."));

        LogHandedOff(id, target.ToString(), sealedAt, assignment.Epoch + 1, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    private static async Task<bool> CaughtUpAsync(Partition partition, string standby, long sequence, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < CatchUpTimeout)
        {
            var link = partition.Links.FirstOrDefault(l => l.Name == standby);
            if (link is null || !link.InSync)
            {
                return false;
            }

            // The standby's warm copy has every change up to the seal, so the new primary needs
            // nothing from the store; only writes waiting to be Durable need the flush first, or
            // the epoch change would fence it and fail them.
            if (link.AppliedSequence >= sequence && (partition.PendingWrites.Durable == 0 || partition.DurableSequence >= sequence))
            {
                return true;
            }

            // Acks and the write-behind flush arrive within milliseconds; the seal holds writes meanwhile.
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    [LoggerMessage(EventId = LogEvents.PartitionHandoffCompleted, Level = LogLevel.Debug, Message = "Partition {Partition} handed off gracefully to {Standby} at sequence {Sequence}, epoch {Epoch}, in {ElapsedMs} ms.")]
    private partial void LogHandedOff(int partition, string standby, long sequence, long epoch, long elapsedMs);

    [LoggerMessage(EventId = LogEvents.HandoffTargetSlow, Level = LogLevel.Warning, Message = "Partition {Partition} was handed to {Standby}, which did not confirm within {TimeoutMs} ms that it serves it; requests are redirected there anyway and may bounce until it reads the map.")]
    private partial void LogTargetSlow(int partition, string standby, long timeoutMs);

    [LoggerMessage(EventId = LogEvents.HandoffAborted, Level = LogLevel.Warning, Message = "Handoff of partition {Partition} to {Standby} (sealed at {Sequence}) undone: {Reason}. The partition keeps serving here and the drain retries.")]
    private partial void LogAborted(int partition, string standby, long sequence, string reason);

    [LoggerMessage(EventId = LogEvents.DrainIncomplete, Level = LogLevel.Information, Message = "Partition {Partition} cannot be handed off by {Silo} yet: no in-sync standby on an active silo. The drain retries once one is in sync.")]
    private partial void LogNoTarget(int partition, string silo);
}
