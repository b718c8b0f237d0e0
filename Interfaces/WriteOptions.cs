namespace OrleansReplication;

/// <summary>Per-call options of a write.</summary>
public sealed record WriteOptions
{
    /// <summary>The options every write uses unless told otherwise.</summary>
    public static WriteOptions Default { get; } = new();

    /// <summary>When the write is acknowledged.</summary>
    /// <value>Defaults to <see cref="SafetyLevel.Default"/>: the component's configured level.</value>
    public SafetyLevel Safety { get; init; } = SafetyLevel.Default;
}
