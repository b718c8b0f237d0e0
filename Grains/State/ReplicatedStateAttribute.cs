namespace OrleansReplication.Grains.State;

/// <summary>
/// Marks a grain constructor's <see cref="IReplicatedState{TState}"/> parameter, as
/// <c>[PersistentState]</c> marks an <c>IPersistentState&lt;T&gt;</c>: the silo (with
/// <c>AddStateReplication()</c>) supplies it, and places the grain on the primary of its
/// partition (the grain id decides which). Several in one grain are allowed, each with its own name.
/// </summary>
/// <param name="stateName">The state's name, unique within the grain class (letters, digits, '.', '_', '-'; at most 58 characters).</param>
/// <param name="storageName">
/// Optionally, an Orleans grain storage of the silo (as <c>[PersistentState]</c> names one): a state the
/// partition lacks is read from it at activation and taken in (the state an Orleans application
/// persisted before it took this facet), and every acknowledged change is written back to it behind
/// the replicas (a <c>Durable</c> write waits for it). The replicas and the replication's store stay the
/// state's truth; the grain storage is a copy that follows.
/// </param>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class ReplicatedStateAttribute(string stateName, string? storageName = null) : Attribute, IFacetMetadata
{
    /// <summary>The state's name.</summary>
    public string StateName { get; } = stateName ?? throw new ArgumentNullException(nameof(stateName));

    /// <summary>The Orleans grain storage named for the durable tier, or <see langword="null"/>.</summary>
    public string? StorageName { get; } = storageName;
}
