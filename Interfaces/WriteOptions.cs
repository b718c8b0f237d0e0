namespace OrleansReplication;

/// <summary>Per-call options of a write.</summary>
public sealed record WriteOptions
{
    /// <summary>The options every write uses unless told otherwise.</summary>
    public static WriteOptions Default { get; } = new();

    /// <summary>When the write is acknowledged.</summary>
    /// <value>Defaults to <see cref="SafetyLevel.Default"/>: the component's configured level.</value>
    public SafetyLevel Safety { get; init; } = SafetyLevel.Default;

    /// <summary>
    /// The write's idempotency id; null (the default): a fresh one per call. Give the id of an
    /// earlier write whose outcome is unknown (<see cref="StoreUnavailableException.IdempotencyId"/>,
    /// a timeout) with the same items to learn it: that write's result if it was applied, else it is applied now, once.
    /// </summary>
    public IdempotencyId? IdempotencyId { get; init; }
}
