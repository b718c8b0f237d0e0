using Microsoft.Extensions.Logging;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// Routing: each item goes to its partition's primary per the cached map; a request over several
/// primaries is split into parts sent concurrently. A part that reached a silo that no longer
/// leads its partition follows the answer; a part cut off by a lost silo refreshes the map and is
/// sent again with backoff, within <see cref="ReplicationClientOptions.RequestTimeout"/>. Writes
/// carry one request id for all their parts and attempts, so the partition applies each once.
/// </summary>
public sealed partial class ReplicationClient
{
    private readonly string _requestClientId;
    private readonly Lock _refreshLock = new();
    private long _nextRequestSequence;
    private long _redirects;
    private Task? _refresh;
    private long _refreshStarted;

    /// <summary>How many "partition moved" answers this client got: stays 0 while its map is current.</summary>
    internal long RedirectsFollowed => Interlocked.Read(ref _redirects);

    /// <summary>The client's view of the partition map.</summary>
    internal PartitionMapCache Map => _map;

    internal async Task<IReadOnlyList<WriteResult>> ApplyAsync(ApplyRequest request, CancellationToken cancellationToken)
    {
        // One id for the request's life: every part and every retry of it carries the same.
        request.RequestId = new RequestId { ClientId = _requestClientId, Sequence = (ulong)Interlocked.Increment(ref _nextRequestSequence) };
        var call = new RoutedApply(request);
        await ExecuteAsync(call, MessageType.Apply, cancellationToken).ConfigureAwait(false);
        return call.Results();
    }

    internal async Task<IEnumerable<Item>> GetAsync(GetRequest request, CancellationToken cancellationToken)
    {
        var call = new RoutedGet(request);
        await ExecuteAsync(call, MessageType.Get, cancellationToken).ConfigureAwait(false);
        return call.Found();
    }

    /// <summary>
    /// One page of a listing: every silo lists the partitions it leads, so the page is asked of each
    /// primary and merged in listing order (id, then partition key; ordinal).
    /// </summary>
    internal async Task<ListReply> ListAsync(ListRequest request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.RequestTimeout);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (_map.PartitionCount == 0)
                {
                    await RefreshMapAsync(timeout.Token).ConfigureAwait(false);
                }

                var (primaries, complete) = _map.DistinctPrimaries();
                if (!complete && _map.PartitionCount > 0)
                {
                    throw new ReplicaUnavailableException("A partition has no live primary right now (failover in progress).", Options.MinReconnectDelay);
                }

                var pages = primaries.Count == 0
                    ? [await ListOnAsync(await _pool.GetAnyAsync(timeout.Token).ConfigureAwait(false), request, timeout.Token).ConfigureAwait(false)]
                    : await Task.WhenAll(primaries.Select(async p => await ListOnAsync(await _pool.GetAsync(p, timeout.Token).ConfigureAwait(false), request, timeout.Token).ConfigureAwait(false))).ConfigureAwait(false);
                return ListingMerge.Merge(pages, request.Limit);
            }
            catch (Exception ex) when (ex is ReplicaUnavailableException or PartitionMovedException)
            {
                await BackoffAsync(attempt, timeout.Token, cancellationToken, MessageType.List).ConfigureAwait(false);
                await RefreshMapAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(MessageType.List);
            }
        }
    }

    private static Task<ListReply> ListOnAsync(GatewayConnection connection, ListRequest request, CancellationToken cancellationToken) =>
        connection.SendAsync(MessageType.List, request, MessageType.ListReply, ListReply.Parser, cancellationToken);

    private async Task ExecuteAsync(RoutedRequest call, MessageType type, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.RequestTimeout);
        try
        {
            if (_map.PartitionCount == 0)
            {
                await RefreshMapAsync(timeout.Token).ConfigureAwait(false);
            }

            await SendPartsAsync(call, [.. Enumerable.Range(0, call.Count)], type, 0, timeout.Token, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(type);
        }

        call.ThrowIfFailed();
    }

    // Groups the positions by their partition's primary (one group, without a dictionary, in the
    // common case of a request within one primary) and sends each group as a part.
    private Task SendPartsAsync(RoutedRequest call, List<int> positions, MessageType type, int attempt, CancellationToken deadline, CancellationToken caller)
    {
        var count = _map.PartitionCount;
        GatewayAddress? Target(int position) => count == 0 ? null : _map.PrimaryOf(PartitionHasher.GetPartition(call.Component, call.PartitionKeyAt(position), count));

        var first = Target(positions[0]);
        Dictionary<GatewayAddress, List<int>>? groups = null;
        List<int>? unrouted = null;
        for (var i = 1; i < positions.Count; i++)
        {
            var target = Target(positions[i]);
            if (groups is null && target == first)
            {
                continue;
            }

            if (groups is null)
            {
                groups = [];
                foreach (var earlier in positions.Take(i))
                {
                    Add(first, earlier);
                }
            }

            Add(target, positions[i]);
        }

        if (groups is null)
        {
            return SendPartAsync(call, first, positions, type, attempt, deadline, caller);
        }

        var parts = groups.Select(g => SendPartAsync(call, g.Key, g.Value, type, attempt, deadline, caller)).ToList();
        if (unrouted is not null)
        {
            parts.Add(SendPartAsync(call, null, unrouted, type, attempt, deadline, caller));
        }

        return Task.WhenAll(parts);

        void Add(GatewayAddress? target, int position)
        {
            if (target is not { } address)
            {
                (unrouted ??= []).Add(position);
            }
            else if (groups!.TryGetValue(address, out var group))
            {
                group.Add(position);
            }
            else
            {
                groups[address] = [position];
            }
        }
    }

    private async Task SendPartAsync(RoutedRequest call, GatewayAddress? target, List<int> positions, MessageType type, int attempt, CancellationToken deadline, CancellationToken caller)
    {
        try
        {
            var connection = target is { } address
                ? await _pool.GetAsync(address, deadline).ConfigureAwait(false)
                : await _pool.GetAnyAsync(deadline).ConfigureAwait(false);
            await call.SendAsync(connection, positions, deadline).ConfigureAwait(false);
            return;
        }
        catch (PartitionMovedException moved)
        {
            // Nothing of this part was applied by the silo that answered: follow the partition.
            Interlocked.Increment(ref _redirects);
            LogRedirected(moved.Partition, target?.ToString() ?? "(any)", moved.PrimaryGatewayEndpoint ?? "(none yet)");
            var named = GatewayAddress.TryParse(moved.PrimaryGatewayEndpoint, out var primary) && primary != target;
            if (named && attempt < 4)
            {
                _map.Moved(moved.Partition, primary);
            }
            else
            {
                // Redirects went back and forth: the silo that answered has not followed a failover
                // the map (read from another silo) already shows. Sent again once the map names
                // a primary other than the one it points to, not after a backoff grown meanwhile.
                await WaitToResendAsync(call, positions, named ? primary : target, attempt, deadline, caller, type).ConfigureAwait(false);
            }
        }
        catch (ReplicaUnavailableException unavailable)
        {
            // A lost silo or connection, or a partition briefly unavailable: a read, or a write
            // with its request id, is safe to send again once the map says where to.
            LogRetrying(type, target?.ToString() ?? "(any)", unavailable.Message);
            await WaitToResendAsync(call, positions, target, attempt, deadline, caller, type).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            call.Fail(ex);
            return;
        }

        await SendPartsAsync(call, positions, type, attempt + 1, deadline, caller).ConfigureAwait(false);
    }

    // The backoff before a part is sent again, with the map re-read every MinReconnectDelay meanwhile:
    // once it routes the part elsewhere (a failover finished), the part goes there at once rather
    // than after a backoff grown while the old primary was refusing.
    private async Task WaitToResendAsync(RoutedRequest call, List<int> positions, GatewayAddress? failed, int attempt, CancellationToken deadline, CancellationToken caller, MessageType type)
    {
        var backoff = BackoffDelay(attempt);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            var left = backoff - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            await DelayAsync(left < Options.MinReconnectDelay ? left : Options.MinReconnectDelay, deadline, caller, type).ConfigureAwait(false);
            await RefreshMapAsync(deadline, Options.MinReconnectDelay / 2).ConfigureAwait(false);
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) >= backoff || RoutedElsewhere(call, positions, failed))
            {
                return;
            }
        }
    }

    private bool RoutedElsewhere(RoutedRequest call, List<int> positions, GatewayAddress? failed)
    {
        var count = _map.PartitionCount;
        return count > 0 && failed is not null && positions.Any(p => _map.PrimaryOf(PartitionHasher.GetPartition(call.Component, call.PartitionKeyAt(p), count)) is { } now && now != failed);
    }

    private Task BackoffAsync(int attempt, CancellationToken deadline, CancellationToken caller, MessageType type) =>
        DelayAsync(BackoffDelay(attempt), deadline, caller, type);

    private TimeSpan BackoffDelay(int attempt) =>
        TimeSpan.FromTicks(Math.Min(Options.MinReconnectDelay.Ticks << Math.Min(attempt, 16), Options.MaxReconnectDelay.Ticks));

    private async Task DelayAsync(TimeSpan delay, CancellationToken deadline, CancellationToken caller, MessageType type)
    {
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, deadline).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!caller.IsCancellationRequested)
        {
            throw TimedOut(type);
        }
    }

    /// <summary>
    /// Fetches the partition map from any reachable silo (one fetch at a time; callers share it),
    /// or reuses a fetch started less than <paramref name="maxAge"/> ago. Failures leave the cached map.
    /// </summary>
    private Task RefreshMapAsync(CancellationToken cancellationToken, TimeSpan maxAge = default)
    {
        Task refresh;
        lock (_refreshLock)
        {
            if (_refresh is null || (_refresh.IsCompleted && System.Diagnostics.Stopwatch.GetElapsedTime(_refreshStarted) >= maxAge))
            {
                _refreshStarted = System.Diagnostics.Stopwatch.GetTimestamp();
                _refresh = FetchMapAsync();
            }

            refresh = _refresh;
        }

        return refresh.WaitAsync(cancellationToken);
    }

    private async Task FetchMapAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(Options.ConnectTimeout);
            var connection = await _pool.GetAnyAsync(timeout.Token).ConfigureAwait(false);
            var reply = await connection.SendAsync(MessageType.GetPartitionMap, new GetPartitionMapRequest(), MessageType.PartitionMapReply, PartitionMapReply.Parser, timeout.Token).ConfigureAwait(false);
            _pool.Learn(_map.Update(reply));
        }
        catch (Exception ex) when (ex is ReplicationException or OperationCanceledException or ObjectDisposedException)
        {
            LogMapRefreshFailed(ex.Message);
        }
    }

    private ReplicaUnavailableException TimedOut(MessageType type) => new(
        $"No reply to {type} within {Options.RequestTimeout.TotalSeconds:0.#} s (RequestTimeout), retries after failovers included. A write may or may not have been applied; sending it again through this client is applied once only if the silo still remembers its request id, so read it back before retrying a conditional write.",
        Options.MinReconnectDelay);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "Partition {Partition} is not led at gateway {Gateway}; its primary is {Primary}. Updating the partition map and sending there.")]
    private partial void LogRedirected(int partition, string gateway, string primary);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "{Request} to gateway {Gateway} did not go through ({Reason}); refreshing the partition map and sending again with the same request id.")]
    private partial void LogRetrying(MessageType request, string gateway, string reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Could not refresh the partition map: {Reason}. Keeping the cached one; requests retry until RequestTimeout.")]
    private partial void LogMapRefreshFailed(string reason);
}
