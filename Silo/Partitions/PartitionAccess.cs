using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Api;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// The grains' door to the partitions: validates what callers sent (names, ids, JSON, sizes,
/// limits, that every item belongs to the partition called), fills in the default safety level,
/// and checks on every call that this silo leads the partition.
/// </summary>
internal sealed class PartitionAccess(PartitionManager partitions, Placement.PartitionMapManager map, MembershipService membership, SiloIdentity identity, IOptions<SiloOptions> options, IServiceProvider services) : IPartitionAccess
{
    // A handoff settles in milliseconds to a second; a forwarded write asks again this long.
    private static readonly TimeSpan ForwardTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ForwardMaxDelay = TimeSpan.FromMilliseconds(100);

    private readonly SiloOptions _options = options.Value;

    public int PartitionCount => partitions.PartitionCount is > 0 and var count
        ? count
        : throw new ReplicaUnavailableException("The silo is still loading its partitions; retry shortly.", TimeSpan.FromSeconds(1));

    public int GetPartition(string component, ItemKey key)
    {
        RequestValidator.StoredComponent(component);
        RequestValidator.Key(key);
        return PartitionHasher.GetPartition(component, key.EffectivePartitionKey, PartitionCount);
    }

    public void EnsureLeads(int partition)
    {
        if (!partitions.FollowsMap)
        {
            throw new PartitionMovedException(partition, $"This silo has not followed the partition map yet (it is starting), so it serves no partition; nothing was applied. Call again: the grain is placed on partition {partition}'s primary.");
        }

        partitions.EnsureLeads(partition);
    }

    public JsonItem[] Get(int partition, string component, IReadOnlyList<ItemKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            Check(partition, component, key);
        }

        return partitions.Get(partition, component, keys);
    }

    public async Task<WriteResult[]> ApplyAsync(int partition, string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken)
    {
        if (writes is null || writes.Count == 0)
        {
            throw new InvalidRequestException("A write needs at least one change.");
        }

        RequestValidator.Safety(safety);
        var key = RequestKey.From(id);
        foreach (var write in writes)
        {
            Check(partition, component, write.Key);
            if (GrainStateNames.IsGrainState(component))
            {
                RequestValidator.GrainStateWrite(write, _options.MaxItemBytes);
            }
            else
            {
                RequestValidator.Write(write, _options.MaxItemBytes);
            }
        }

        var level = safety == SafetyLevel.Default ? _options.DefaultSafety : safety;
        var results = await partitions.CommitAsync(partition, component, writes, level, key).ConfigureAwait(false);
        return results as WriteResult[] ?? [.. results];
    }

    public Task<WriteResult[]> ApplyOnPrimaryAsync(int partition, string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken) =>
        OnPrimaryAsync(
            partition,
            () => ApplyAsync(partition, component, writes, safety, id, cancellationToken),
            replicas => replicas.ApplyGrainStateAsync(partition, component, [.. writes], safety, id),
            cancellationToken);

    public Task<JsonItem[]> GetOnPrimaryAsync(int partition, string component, IReadOnlyList<ItemKey> keys) =>
        OnPrimaryAsync(
            partition,
            () =>
            {
                EnsureLeads(partition);
                return Task.FromResult(Get(partition, component, keys));
            },
            replicas => replicas.GetGrainStateAsync(partition, component, [.. keys]),
            CancellationToken.None);

    // Here when this silo leads (or knows no other primary: the local call says why not), else on the
    // primary's replica service; asked again while the map here or there is a step behind a handoff.
    private async Task<T> OnPrimaryAsync<T>(int partition, Func<Task<T>> here, Func<Replication.IReplicaService, Task<T>> there, CancellationToken cancellationToken)
    {
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(ForwardTimeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        var delay = TimeSpan.FromMilliseconds(5);
        var self = services.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().SiloAddress;
        while (true)
        {
            try
            {
                // Not bounded by the deadline once sent: a write that may have applied is never reported as not applied.
                return PrimarySilo(partition) is { } primary && !primary.Equals(self)
                    ? await there(services.GetRequiredService<Replication.IReplicaServiceClient>().GetService(primary)).ConfigureAwait(false)
                    : await here().ConfigureAwait(false);
            }
            catch (PartitionMovedException) when (System.Diagnostics.Stopwatch.GetTimestamp() < deadline && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, CancellationToken.None).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, ForwardMaxDelay.Ticks));
            }
        }
    }

    public PartitionPage List(int partition, string component, string? after, int limit)
    {
        RequestValidator.StoredComponent(component);
        return partitions.List(partition, component, after, RequestValidator.Limit(limit, _options.MaxListLimit));
    }

    public PartitionProgress GetProgress(int partition)
    {
        var p = partitions.Partitions[partition];
        var checks = p.ReplicaChecks;
        var standbys = p.Links.Select(l => new StandbyProgress(l.Name, l.AppliedSequence, l.InSync, checks.TryGetValue(l.Name, out var c) ? c.ToPublic() : null)).ToArray();
        return new PartitionProgress(partition, p.Epoch, p.LastSequence, standbys, p.LastStoreCheck?.ToPublic());
    }

    // How long an on-demand verification waits for standbys' answers (one stream round trip each, normally).
    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromSeconds(10);

    public async Task<PartitionProgress> VerifyAsync(int partition, bool store, CancellationToken cancellationToken)
    {
        var p = partitions.Partitions[partition];

        // A standby that stops answering (its silo died) must not hold the caller: the progress then shows what ended.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(VerifyTimeout);
        try
        {
            await p.CheckNowAsync(deadline.Token).ConfigureAwait(false);
            if (store)
            {
                await p.CheckStoreAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Timed out: answer what is known.
        }

        return GetProgress(partition);
    }

    public Orleans.Runtime.SiloAddress? PrimarySilo(int partition) => Placement.PartitionPlacementDirector.PrimaryOf(map, membership, partition);

    public TimeSpan LedSinceLosingPrimary(int partition)
    {
        EnsureLeads(partition);
        var (from, since) = partitions.TakenFrom(partition);
        var alive = from is { } previous && (previous == identity.Address || membership.Current.IsAlive(previous));
        return alive ? TimeSpan.MaxValue : System.Diagnostics.Stopwatch.GetElapsedTime(since);
    }

    public ClusterInfo GetClusterInfo()
    {
        var others = membership.Current.Silos
            .Where(s => s.Status is SiloStatus.Active or SiloStatus.Joining && s.HttpEndpoint.Length > 0 && s.HttpEndpoint != identity.HttpEndpoint)
            .Select(s => s.HttpEndpoint);
        return new ClusterInfo(PartitionCount, [identity.HttpEndpoint, .. others.Distinct()]);
    }

    private void Check(int partition, string component, ItemKey key)
    {
        var of = GetPartition(component, key);
        if (of != partition)
        {
            throw new InvalidRequestException($"Item '{key}' of '{component}' belongs to partition {of}, not {partition}; call that partition's grain.");
        }
    }
}
