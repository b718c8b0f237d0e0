namespace OrleansReplication.Silo.Partitions;

/// <summary>
/// One partition's recorded requests (idempotency ids), oldest first, bounded by count and age
/// (<see cref="Replication.ReplicationOptions.RequestsRetained"/>, <see cref="Replication.ReplicationOptions.RequestRetention"/>).
/// The primary's commit loop, or a standby's apply (under the replica's lock), is its only user.
/// </summary>
internal sealed class RequestTable(int maxRequests, TimeSpan retention)
{
    private readonly Dictionary<RequestKey, RecordedRequest> _byKey = [];

    // HTTP Idempotency-Key requests by their key alone: their sequence is the request's
    // fingerprint, so one key seen with another fingerprint is a key reused for another request.
    private readonly Dictionary<string, RecordedRequest> _byHttpKey = new(StringComparer.Ordinal);

    // In the order recorded (= by last sequence); may hold entries forgotten since (skipped when evicted).
    private readonly Queue<RecordedRequest> _order = new();

    public int Count => _byKey.Count;

    /// <summary>The last sequence of the newest request evicted by the bounds: the store may drop its rows up to here.</summary>
    public long EvictedUpTo { get; private set; }

    public bool TryGet(in RequestKey key, out RecordedRequest request) => _byKey.TryGetValue(key, out request!);

    /// <summary>The recorded request with <paramref name="key"/>'s HTTP Idempotency-Key but another fingerprint, if any.</summary>
    public bool TryGetOtherFingerprint(in RequestKey key, out RecordedRequest request)
    {
        request = null!;
        return key.IsHttpKey && _byHttpKey.TryGetValue(key.ClientId, out request!) && request.Key.Sequence != key.Sequence;
    }

    /// <summary>Records <paramref name="request"/> (replacing one with its id) and evicts the oldest beyond the count bound.</summary>
    public void Add(RecordedRequest request)
    {
        _byKey[request.Key] = request;
        if (request.Key.IsHttpKey)
        {
            _byHttpKey[request.Key.ClientId] = request;
        }

        _order.Enqueue(request);
        while (_order.Count > maxRequests)
        {
            Evict();
        }
    }

    /// <summary>Takes back a request recorded by a batch that failed before it was applied.</summary>
    public void Forget(RecordedRequest request)
    {
        if (_byKey.TryGetValue(request.Key, out var recorded) && ReferenceEquals(recorded, request))
        {
            _byKey.Remove(request.Key);
        }

        if (request.Key.IsHttpKey && _byHttpKey.TryGetValue(request.Key.ClientId, out var byHttp) && ReferenceEquals(byHttp, request))
        {
            _byHttpKey.Remove(request.Key.ClientId);
        }
    }

    /// <summary>Evicts requests recorded more than the retention before <paramref name="nowMs"/> (Unix milliseconds).</summary>
    public void Expire(long nowMs)
    {
        var cutoff = nowMs - (long)retention.TotalMilliseconds;
        while (_order.TryPeek(out var oldest) && oldest.RecordedAtMs < cutoff)
        {
            Evict();
        }
    }

    /// <summary>The live requests, oldest first (entries are immutable: the list holds references only).</summary>
    public List<RecordedRequest> Copy()
    {
        var copy = new List<RecordedRequest>(_byKey.Count);
        foreach (var request in _order)
        {
            if (_byKey.TryGetValue(request.Key, out var live) && ReferenceEquals(live, request))
            {
                copy.Add(request);
            }
        }

        return copy;
    }

    private void Evict()
    {
        var oldest = _order.Dequeue();
        Forget(oldest);
        if (oldest.Replicated)
        {
            EvictedUpTo = Math.Max(EvictedUpTo, oldest.LastSequence);
        }
    }
}
