namespace OrleansReplication;

/// <summary>
/// Names a write so that sending it again (after a timeout, a lost silo or a moved partition) takes
/// effect once: the partition that applied it answers a retry with the same id with the first
/// attempt's results. One id per write, shared by its parts (one per partition) and its retries.
/// </summary>
/// <param name="ClientId">The sender's id, unique per client instance (1 to 200 characters).</param>
/// <param name="Sequence">A number the sender never uses again for another write.</param>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.IdempotencyId")]
public readonly record struct IdempotencyId(string ClientId, ulong Sequence)
{
    /// <summary>The <see cref="Orleans.Runtime.RequestContext"/> key under which a caller of <see cref="IStateItemGrain"/> may pass one.</summary>
    public const string RequestContextKey = "replication.idempotency-id";

    /// <inheritdoc />
    public override string ToString() => $"({ClientId}, {Sequence})";
}
