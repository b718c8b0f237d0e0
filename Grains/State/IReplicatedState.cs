namespace OrleansReplication.Grains.State;

/// <summary>
/// A grain's state kept warm on its partition's standbys, as <c>IPersistentState&lt;T&gt;</c> keeps it
/// in storage: take it as a constructor parameter marked <see cref="ReplicatedStateAttribute"/>. It is
/// read from this silo's copy of the partition when the grain activates (after a failover, from
/// the promoted standby's warm copy: no storage read), and each write commits through the
/// partition's commit loop and reaches its standbys at the requested <see cref="SafetyLevel"/>.
/// </summary>
/// <typeparam name="TState">The state's type, serialized with the Orleans serializer (<c>[GenerateSerializer]</c>).</typeparam>
public interface IReplicatedState<TState>
{
    /// <summary>The state. When none was written yet: a new <typeparamref name="TState"/> (when it has a public parameterless constructor), else <see langword="default"/>.</summary>
    TState State { get; set; }

    /// <summary>The version of the state as last read or written; 0 when it does not exist. Every write raises it (to its partition's sequence number: versions are ordered, not consecutive).</summary>
    long Version { get; }

    /// <summary>The version as an entity tag (<c>"7"</c>, as the HTTP API writes it), or <see langword="null"/> when the state does not exist.</summary>
    string? ETag { get; }

    /// <summary>Whether the state exists (as last read or written).</summary>
    bool RecordExists { get; }

    /// <summary>Reads the state again from this silo's copy of the partition (no storage read).</summary>
    /// <exception cref="PartitionMovedException">This silo no longer leads the grain's partition: the grain moves to the one that does; call it again.</exception>
    Task ReadStateAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <see cref="State"/> if nobody wrote it since it was last read or written here, and
    /// answers once it is as safe as <paramref name="safety"/> asks (the silo's default when null).
    /// When it throws, <see cref="State"/>, <see cref="Version"/> and <see cref="RecordExists"/> are read
    /// again from the partition: the last acknowledged state (or the failed write, if it committed here
    /// without reaching its safety level: see <see cref="ReplicaUnavailableException"/>).
    /// </summary>
    /// <exception cref="VersionConflictException">The state changed since it was read; nothing was written.</exception>
    /// <exception cref="ItemTooLargeException">The serialized state is larger than <c>Silo:MaxItemBytes</c>; nothing was written.</exception>
    /// <exception cref="ReplicaUnavailableException">The safety level could not be reached in time (no in-sync standby, store down at <c>Durable</c>).</exception>
    /// <exception cref="PartitionMovedException">This silo no longer leads the grain's partition; nothing was written. Call the grain again.</exception>
    Task WriteStateAsync(SafetyLevel? safety = null, CancellationToken cancellationToken = default);

    /// <summary>Removes the state (if nobody wrote it since it was last read or written here); <see cref="State"/> becomes the empty state.</summary>
    /// <exception cref="VersionConflictException">The state changed since it was read; nothing was removed.</exception>
    /// <exception cref="ReplicaUnavailableException">The safety level could not be reached in time.</exception>
    Task ClearStateAsync(SafetyLevel? safety = null, CancellationToken cancellationToken = default);
}
