using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansReplication;

/// <summary>How long and how often a call to the partition grains is tried again after a retryable failure.</summary>
/// <param name="Timeout">The whole call's budget, retries included.</param>
/// <param name="MinDelay">The first delay between attempts (doubled after each failure).</param>
/// <param name="MaxDelay">The longest delay between attempts.</param>
internal sealed record RetryPolicy(TimeSpan Timeout, TimeSpan MinDelay, TimeSpan MaxDelay)
{
    /// <summary>
    /// How long one attempt may take before it is abandoned and sent again (a call to a silo that
    /// stopped or froze may otherwise wait for Orleans' response timeout). A write's abandoned
    /// attempt that applies later is answered to the retry from its idempotency record, not applied twice.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Calls over the partition grains, shared by the .NET client and the silo's HTTP API: a request is
/// split by partition, the parts are sent concurrently to their <see cref="IPartitionGrain"/>s,
/// and each part is sent again after a retryable failure (a moved partition, a lost silo or
/// connection, a timeout) with backoff until the policy's timeout. A write carries one
/// idempotency id for all its parts and attempts, so each partition applies its part once.
/// </summary>
/// <param name="grains">The grain factory the calls go through.</param>
/// <param name="partitionCount">The cluster's partition count.</param>
/// <param name="policy">Timeouts and backoff.</param>
/// <param name="losses">The caller's lost connections (an Orleans client's gateways), or <see langword="null"/>.</param>
internal sealed class PartitionedCalls(IGrainFactory grains, Func<CancellationToken, Task<int>> partitionCount, RetryPolicy policy, ConnectionLosses? losses = null)
{
    /// <summary>
    /// The longest delay between attempts while a failover or handoff is under way (a moved
    /// partition, a lost silo): the call goes through within this of the partition's new primary
    /// serving, however long the backoff has grown meanwhile. A waiting call costs a few cheap
    /// refusals a second (a refusal is one grain call's round trip); a failover takes a few hundred
    /// milliseconds, so 100 ms here was a quarter of the stall.
    /// </summary>
    public static readonly TimeSpan FailoverRetryDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>Applies writes, atomically per partition; results in the writes' order.</summary>
    /// <exception cref="VersionConflictException">A condition failed; that partition's part was not applied (others' are in <see cref="VersionConflictException.Applied"/>).</exception>
    /// <exception cref="PartiallyAppliedException">Some partitions applied their part, others could not be reached in time.</exception>
    public async Task<WriteResult[]> ApplyAsync(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, IdempotencyId? id, CancellationToken cancellationToken)
    {
        if (writes.Count == 0)
        {
            return [];
        }

        var count = await partitionCount(cancellationToken).ConfigureAwait(false);
        var groups = Group(writes, w => w.Key, component, count);
        if (groups.Count == 1)
        {
            var (only, (_, onlyWrites)) = groups.First();
            return await RetryAsync(() => Grain(only).ApplyAsync(component, onlyWrites, safety, id, cancellationToken), cancellationToken, ServingFor(only)).ConfigureAwait(false);
        }

        var tasks = groups.Select(g => (g.Value.Positions, Task: RetryAsync(() => Grain(g.Key).ApplyAsync(component, g.Value.Items, safety, id, cancellationToken), cancellationToken, ServingFor(g.Key)))).ToList();
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
        List<WriteResult> applied = [];
        Exception? other = null;
        foreach (var (positions, task) in tasks)
        {
            if (task.IsCompletedSuccessfully)
            {
                for (var i = 0; i < positions.Count; i++)
                {
                    results[positions[i]] = task.Result[i];
                }

                applied.AddRange(task.Result);
            }
            else if (task.Exception?.InnerException is VersionConflictException conflict)
            {
                (conflicts ??= []).AddRange(conflict.Conflicts);
            }
            else
            {
                other ??= task.Exception?.InnerException ?? new OperationCanceledException(cancellationToken);
            }
        }

        if (conflicts is not null)
        {
            throw new VersionConflictException(conflicts, applied);
        }

        if (other is not null)
        {
            if (applied.Count == 0 || other is OperationCanceledException)
            {
                throw other;
            }

            throw new PartiallyAppliedException(
                $"The write spans partitions: {applied.Count} of {writes.Count} changes were applied (atomically per partition), the rest were not: {other.Message} Send it again with the same idempotency id to apply the rest once.",
                applied,
                policy.MinDelay,
                other);
        }

        return results;
    }

    /// <summary>Reads items; those that do not exist are left out; the keys' order is kept.</summary>
    public async Task<List<JsonItem>> GetAsync(string component, IReadOnlyList<ItemKey> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        var count = await partitionCount(cancellationToken).ConfigureAwait(false);
        var groups = Group(keys, k => k, component, count);
        var parts = await Task.WhenAll(groups.Select(g => RetryAsync(() => Grain(g.Key).GetAsync(component, g.Value.Items), cancellationToken, ServingFor(g.Key)))).ConfigureAwait(false);
        var found = new Dictionary<ItemKey, JsonItem>();
        foreach (var part in parts)
        {
            foreach (var item in part)
            {
                found[Normal(item.Key)] = item;
            }
        }

        var items = new List<JsonItem>(found.Count);
        foreach (var key in keys)
        {
            if (found.TryGetValue(Normal(key), out var item))
            {
                items.Add(item);
            }
        }

        return items;
    }

    /// <summary>One page of the component's items over every partition, in listing order, and the cursor after it.</summary>
    public async Task<(List<JsonItem> Items, string? Next)> ListAsync(string component, string? after, int limit, CancellationToken cancellationToken)
    {
        var count = await partitionCount(cancellationToken).ConfigureAwait(false);
        var pages = await Task.WhenAll(Enumerable.Range(0, count).Select(p => RetryAsync(() => Grain(p).ListAsync(component, after, limit), cancellationToken, ServingFor(p)))).ConfigureAwait(false);
        return ListingMerge.Merge(pages, limit);
    }

    /// <summary>Runs <paramref name="call"/>, again after each retryable failure, until the policy's timeout.</summary>
    /// <param name="call">Sends one attempt.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <param name="servingFor">Asks the called partition how long its grain has served (<see cref="StalledAttempts"/>), or <see langword="null"/>.</param>
    /// <exception cref="ReplicaUnavailableException">The call kept failing until the timeout (the last failure is the inner exception).</exception>
    public async Task<T> RetryAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken, Func<Task<TimeSpan>>? servingFor = null)
    {
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var left = policy.Timeout - Stopwatch.GetElapsedTime(started);
                var limit = left < policy.AttemptTimeout ? left : policy.AttemptTimeout;
                return await StalledAttempts.WaitAsync(call(), servingFor, losses, limit, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRetryable(ex) && cancellationToken.IsCancellationRequested)
            {
                // Cancelled while the partition was moving: the caller cancelled, and hears that
                // (not the failure it would have retried). The write may still apply, as with any cancel.
                throw new OperationCanceledException($"The call was cancelled while it was being retried ({ex.Message}); a write may or may not have been applied.", ex, cancellationToken);
            }
            catch (Exception ex) when (IsRetryable(ex))
            {
                // Under a millisecond left is none: Task.Delay rounds it down to 0, and the loop
                // would spin through attempts at the budget's end.
                var left = policy.Timeout - Stopwatch.GetElapsedTime(started);
                if (left < TimeSpan.FromMilliseconds(1))
                {
                    throw new ReplicaUnavailableException(
                        $"The call did not go through within {policy.Timeout.TotalSeconds:0.#} s (RequestTimeout), retries after failovers included: {ex.Message} A write may or may not have been applied; sending it again with the same idempotency id applies it once.",
                        policy.MinDelay,
                        ex);
                }

                if (ex is AttemptLostException)
                {
                    // The partition is served again (its grain answered), or the answer's way back is gone: go at once.
                    continue;
                }

                var delay = TimeSpan.FromTicks(Math.Min(policy.MinDelay.Ticks << Math.Min(attempt, 16), policy.MaxDelay.Ticks));

                if (ex is PartitionMovedException or OrleansMessageRejectionException && delay > FailoverRetryDelay)
                {
                    delay = FailoverRetryDelay;
                }

                await Task.Delay(delay < left ? delay : left, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether a failure left nothing applied that a retry (with the same idempotency id) could apply twice, and may go away.</summary>
    public static bool IsRetryable(Exception exception) => exception switch
    {
        PartiallyAppliedException => false,

        // The store is down: retrying until the caller's timeout would only hide that (and its
        // idempotency id) from the caller, who may well prefer to go on at Applied.
        StoreUnavailableException => false,
        ReplicaUnavailableException => true,
        OrleansMessageRejectionException => true,
        TimeoutException => true,

        // Orleans' plain OrleansException is what its directory and placement throw while
        // membership changes under them ("Current directory ... is not stable ... Retry later.",
        // "hop limit is reached"): the message never reached the grain. Its subclasses say more
        // and are judged by type.
        _ when exception.GetType() == typeof(OrleansException) => true,
        _ => exception.GetType().Name is "ConnectionFailedException" or "ConnectionAbortedException" or "GatewayTooBusyException",
    };

    /// <summary>
    /// The partition's grain reference, made once: Orleans' GetGrain resolves the interface's grain
    /// type through reflection on every call, which cost a seventh of the client's CPU per write.
    /// Partition ids are below the cluster's partition count, so the cache stays that small.
    /// </summary>
    private IPartitionGrain Grain(int partition) =>
        _grains.GetOrAdd(partition, static (p, factory) => factory.GetGrain<IPartitionGrain>(p), grains);

    private readonly ConcurrentDictionary<int, IPartitionGrain> _grains = new();

    private Func<Task<TimeSpan>> ServingFor(int partition) => () => Grain(partition).GetServingForAsync();

    private static ItemKey Normal(ItemKey key) => string.IsNullOrEmpty(key.PartitionKey) ? new ItemKey(key.Id) : key;

    private static Dictionary<int, (List<int> Positions, TItem[] Items)> Group<TItem>(IReadOnlyList<TItem> items, Func<TItem, ItemKey> keyOf, string component, int count)
    {
        var lists = new Dictionary<int, (List<int> Positions, List<TItem> Items)>();
        for (var i = 0; i < items.Count; i++)
        {
            var key = keyOf(items[i]);
            if ((StateNames.ValidateComponent(component) ?? StateNames.Validate(key)) is { } error)
            {
                throw new InvalidRequestException(error);
            }

            var partition = PartitionHasher.GetPartition(component, key.EffectivePartitionKey, count);
            if (!lists.TryGetValue(partition, out var group))
            {
                group = ([], []);
                lists[partition] = group;
            }

            group.Positions.Add(i);
            group.Items.Add(items[i]);
        }

        return lists.ToDictionary(g => g.Key, g => (g.Value.Positions, g.Value.Items.ToArray()));
    }
}
