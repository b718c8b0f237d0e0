using Orleans;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Http;

/// <summary>
/// The HTTP API's calls to the partition grains (<see cref="PartitionedCalls"/>, retried across
/// moves and failovers within <see cref="Timeout"/>) and the idempotency id of each write: the
/// <c>Idempotency-Key</c> with the request's fingerprint, or a fresh id of this silo, so that the
/// silo's own retries never apply a write twice either.
/// </summary>
internal sealed class ItemCalls
{
    /// <summary>How long an HTTP request may retry a call that a failover or handoff interrupted (a failover takes about a second).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly string _clientId = "silo:" + Guid.NewGuid().ToString("N")[..16];
    private long _sequence;

    public ItemCalls(IGrainFactory grains, PartitionManager partitions)
    {
        Calls = new PartitionedCalls(grains, ct => WaitForPartitionsAsync(partitions, ct), new RetryPolicy(Timeout, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(1)));
    }

    public PartitionedCalls Calls { get; }

    /// <summary>
    /// The write's idempotency id: with an <c>Idempotency-Key</c>, client id <c>http:</c> + key and
    /// a 64-bit fingerprint of the request as sequence (the partition refuses a key seen with another
    /// fingerprint: <see cref="IdempotencyKeyReusedException"/>); without, a fresh id.
    /// </summary>
    public IdempotencyId IdFor(string? idempotencyKey, string method, string component, ItemKey key, Expect condition, string? safety, ReadOnlySpan<byte> body)
    {
        if (idempotencyKey is null)
        {
            return new IdempotencyId(_clientId, (ulong)Interlocked.Increment(ref _sequence));
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var head = $"{method}\u0000{component}\u0000{key.Id}\u0000{key.PartitionKey}\u0000{condition.Value}\u0000{safety?.ToLowerInvariant()}\u0000";
        hash.AppendData(Encoding.UTF8.GetBytes(head));
        hash.AppendData(body);
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return new IdempotencyId(RequestKey.HttpClientIdPrefix + idempotencyKey, BinaryPrimitives.ReadUInt64LittleEndian(digest));
    }

    private static async Task<int> WaitForPartitionsAsync(PartitionManager partitions, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (partitions.PartitionCount == 0)
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > Timeout)
            {
                throw new ReplicaUnavailableException("The silo is still loading its partitions; retry shortly.", TimeSpan.FromSeconds(1));
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        return partitions.PartitionCount;
    }
}
