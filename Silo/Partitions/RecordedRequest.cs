using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Storage.Stored;
using OrleansReplication.Silo.Api;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>An idempotency id: the client's id and a sequence number the client never reuses for another request.</summary>
internal readonly record struct RequestKey(string ClientId, ulong Sequence)
{
    /// <summary>Longest client id accepted (the HTTP Idempotency-Key is a client id too).</summary>
    public const int MaxClientIdLength = 200;

    /// <summary>The client id prefix of HTTP <c>Idempotency-Key</c> requests, whose sequence is the request's fingerprint.</summary>
    public const string HttpClientIdPrefix = "http:";

    /// <summary>Whether this id is an HTTP Idempotency-Key (the same key with another fingerprint is a reused key).</summary>
    public bool IsHttpKey => ClientId.StartsWith(HttpClientIdPrefix, StringComparison.Ordinal);

    /// <summary>The id of a grain call, or null when it carries none; throws <see cref="InvalidRequestException"/> when malformed.</summary>
    public static RequestKey? From(IdempotencyId? id)
    {
        if (id is not { } value)
        {
            return null;
        }

        if (value.ClientId is null || value.ClientId.Length is 0 or > MaxClientIdLength)
        {
            throw new InvalidRequestException($"The idempotency id's client id must be 1 to {MaxClientIdLength} characters; got {value.ClientId?.Length ?? 0}. Use one id per client instance (e.g. a GUID).");
        }

        return new RequestKey(value.ClientId, value.Sequence);
    }

    /// <summary>The id as callers give it (to write again with).</summary>
    public IdempotencyId ToIdempotencyId() => new(ClientId, Sequence);

    /// <summary>The id of a wire request, or null when it carries none; throws <see cref="InvalidRequestException"/> when malformed.</summary>
    public static RequestKey? FromWire(RequestId? id)
    {
        if (id is null)
        {
            return null;
        }

        if (id.ClientId.Length is 0 or > MaxClientIdLength)
        {
            throw new InvalidRequestException($"request_id.client_id must be 1 to {MaxClientIdLength} characters; got {id.ClientId.Length}. Use one id per client instance (e.g. a GUID).");
        }

        return new RequestKey(id.ClientId, id.Sequence);
    }

    public RequestId ToWire() => new() { ClientId = ClientId, Sequence = Sequence };

    public override string ToString() => $"({ClientId}, {Sequence})";
}

/// <summary>
/// A write request that carried an idempotency id, as the partition that applied it answered it:
/// a retry with the same id gets <see cref="Results"/> back (once its safety level reaches
/// <see cref="LastSequence"/>) instead of applying again. Immutable.
/// </summary>
/// <param name="key">The idempotency id.</param>
/// <param name="lastSequence">The partition's sequence after the request's changes.</param>
/// <param name="recordedAtMs">When the primary applied it (Unix milliseconds, the primary's clock).</param>
/// <param name="results">The results, in request order.</param>
internal sealed class RecordedRequest(RequestKey key, long lastSequence, long recordedAtMs, WriteResult[] results)
{
    // Built on first use and shared (a class, not a record: identity, not value, is what matters here).
    private ReplicatedRequest? _wire;

    public RequestKey Key { get; } = key;

    public long LastSequence { get; } = lastSequence;

    public long RecordedAtMs { get; } = recordedAtMs;

    public WriteResult[] Results { get; } = results;

    /// <summary>Whether the request changed anything: only those travel with the change records and reach the store.</summary>
    public bool Replicated { get; init; } = true;

    /// <summary>Approximate bytes the record keeps alive (for the replication log's byte bound).</summary>
    public int ApproximateBytes
    {
        get
        {
            var bytes = 96 + (Key.ClientId.Length * 2);
            foreach (var result in Results)
            {
                bytes += 64 + ((result.Key.Id.Length + (result.Key.PartitionKey?.Length ?? 0)) * 2);
            }

            return bytes;
        }
    }

    /// <summary>The replication form (built once, then shared by every batch and snapshot that carries it).</summary>
    public ReplicatedRequest ToWire()
    {
        if (_wire is { } wire)
        {
            return wire;
        }

        var results = new ReplicatedResult[Results.Length];
        for (var i = 0; i < results.Length; i++)
        {
            var r = Results[i];
            results[i] = new ReplicatedResult { Id = r.Key.Id, PartitionKey = r.Key.PartitionKey, Version = r.Version, Removed = r.Removed, Changed = r.Changed, Created = r.Created };
        }

        return _wire = new ReplicatedRequest { ClientId = Key.ClientId, ClientSequence = Key.Sequence, LastSequence = LastSequence, RecordedAtMs = RecordedAtMs, Results = results };
    }

    public static RecordedRequest FromWire(ReplicatedRequest wire)
    {
        var results = new WriteResult[wire.Results.Length];
        for (var i = 0; i < results.Length; i++)
        {
            var r = wire.Results[i];
            results[i] = new WriteResult(new ItemKey(r.Id, string.IsNullOrEmpty(r.PartitionKey) ? null : r.PartitionKey), r.Version, r.Removed, r.Changed, r.Created);
        }

        // The wire form is not kept: a standby holds many records and rarely needs it again (only when promoted).
        return new RecordedRequest(new RequestKey(wire.ClientId, wire.ClientSequence), wire.LastSequence, wire.RecordedAtMs, results);
    }

    /// <summary>The stored form (protobuf <c>StoredRequest</c>, one entry of an <c>or_requests</c> row).</summary>
    public StoredRequest ToStored()
    {
        var stored = new StoredRequest { RequestId = Key.ToWire(), LastSequence = LastSequence, RecordedAtMs = RecordedAtMs };
        foreach (var result in Results)
        {
            stored.Results.Add(new ItemResult
            {
                Id = result.Key.Id,
                PartitionKey = result.Key.PartitionKey ?? string.Empty,
                Version = result.Version,
                Removed = result.Removed,
                Changed = result.Changed,
                Created = result.Created,
            });
        }

        return stored;
    }

    public static RecordedRequest FromStored(StoredRequest stored)
    {
        var results = new WriteResult[stored.Results.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var r = stored.Results[i];
            results[i] = new WriteResult(new ItemKey(r.Id, r.PartitionKey.Length == 0 ? null : r.PartitionKey), r.Version, r.Removed, r.Changed, r.Created);
        }

        return new RecordedRequest(new RequestKey(stored.RequestId?.ClientId ?? string.Empty, stored.RequestId?.Sequence ?? 0), stored.LastSequence, stored.RecordedAtMs, results);
    }

    /// <summary>Whether a retry's writes name the same items, in the same order, as the recorded request.</summary>
    public bool Matches(string component, IReadOnlyList<ItemWriteData> writes)
    {
        if (writes.Count != Results.Length)
        {
            return false;
        }

        for (var i = 0; i < writes.Count; i++)
        {
            if (ItemAddress.From(component, writes[i].Key) != ItemAddress.From(component, Results[i].Key))
            {
                return false;
            }
        }

        return true;
    }
}
