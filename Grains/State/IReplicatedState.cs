namespace OrleansReplication.Grains.State;

/// <summary>
/// A grain's state kept in the silo's partition replica rather than in the activation: reads come
/// from the warm copy of the partition the grain's key hashes to, writes commit through that
/// partition's commit loop and reach its standbys at the requested safety level. An activation
/// can be deactivated at any time and loses nothing.
/// </summary>
/// <typeparam name="TState">The state's type.</typeparam>
public interface IReplicatedState<TState>
{
    /// <summary>The state as last read or set; <see langword="default"/> when <see cref="RecordExists"/> is false.</summary>
    TState State { get; set; }

    /// <summary>The version (ETag) of the state as last read or written; 0 when it does not exist.</summary>
    long Version { get; }

    /// <summary>Whether the state exists in the partition (as last read or written).</summary>
    bool RecordExists { get; }

    /// <summary>Reads the state from the local partition replica (no store read).</summary>
    /// <exception cref="PartitionMovedException">This silo does not lead the partition: the grain deactivates; call again.</exception>
    Task ReadStateAsync(CancellationToken cancellationToken = default);

    /// <summary>Writes <see cref="State"/> if the item is at <paramref name="expect"/>; answers at <paramref name="safety"/>.</summary>
    /// <exception cref="VersionConflictException">The condition did not hold; nothing was written.</exception>
    Task<WriteResult> WriteStateAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default);

    /// <summary>Removes the state if the item is at <paramref name="expect"/>.</summary>
    /// <exception cref="VersionConflictException">The condition did not hold; nothing was removed.</exception>
    Task<WriteResult> ClearStateAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default);
}
