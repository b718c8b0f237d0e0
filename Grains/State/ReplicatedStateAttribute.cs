namespace OrleansReplication.Grains.State;

/// <summary>
/// Marks a grain constructor's <see cref="IReplicatedState{TState}"/> parameter, as
/// <c>[PersistentState]</c> marks an <c>IPersistentState&lt;T&gt;</c>: the silo (with
/// <c>AddStateReplication()</c>) supplies it, and places the grain on the primary of its
/// partition (the grain id decides which). Several in one grain are allowed, each with its own name.
/// </summary>
/// <param name="stateName">The state's name, unique within the grain class (letters, digits, '.', '_', '-'; at most 58 characters).</param>
/// <param name="storageName">
/// Reserved for an Orleans <c>IGrainStorage</c> as the durable tier; the state is persisted today in
/// the replication's own store (<c>Silo:Storage</c>: SQLite or PostgreSQL), and a name here is refused
/// at the grain's first activation rather than silently ignored.
/// </param>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class ReplicatedStateAttribute(string stateName, string? storageName = null) : Attribute, IFacetMetadata
{
    /// <summary>The state's name.</summary>
    public string StateName { get; } = stateName ?? throw new ArgumentNullException(nameof(stateName));

    /// <summary>The Orleans grain storage named for the durable tier, or <see langword="null"/>.</summary>
    public string? StorageName { get; } = storageName;
}
