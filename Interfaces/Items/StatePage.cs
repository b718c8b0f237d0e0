namespace OrleansReplication;

/// <summary>One page of a component's items, in ascending id order.</summary>
/// <typeparam name="TItem">The component's item type.</typeparam>
/// <param name="Items">The items of this page.</param>
/// <param name="NextAfter">The id to pass as <c>after</c> for the next page, or <see langword="null"/> when this was the last page.</param>
public sealed record StatePage<TItem>(IReadOnlyList<VersionedItem<TItem>> Items, string? NextAfter);
