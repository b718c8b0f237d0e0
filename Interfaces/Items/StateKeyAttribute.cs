namespace OrleansReplication;

/// <summary>
/// Marks the property that holds an internally keyed item's id, so
/// <see cref="IStateReplicator{TItem}.SetStateItemsAsync(IEnumerable{TItem}, WriteOptions?, CancellationToken)"/>
/// can key items without a key selector.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class StateKeyAttribute : Attribute;
