namespace OrleansReplication;

/// <summary>One set or remove in a <see cref="IStateReplicator{TItem}.ApplyAsync"/> call.</summary>
/// <typeparam name="TItem">The component's item type.</typeparam>
public sealed record ItemWrite<TItem>
{
    private ItemWrite(ItemKey key, TItem? value, bool isRemove, Expect expect)
    {
        Key = key;
        Value = value;
        IsRemove = isRemove;
        Expect = expect;
    }

    /// <summary>The item's key.</summary>
    public ItemKey Key { get; }

    /// <summary>The new value of a set; <see langword="default"/> for a remove.</summary>
    public TItem? Value { get; }

    /// <summary>Whether this write removes the item.</summary>
    public bool IsRemove { get; }

    /// <summary>The condition on the item's current version.</summary>
    public Expect Expect { get; }

    /// <summary>Adds or updates an item.</summary>
    public static ItemWrite<TItem> Set(ItemKey key, TItem value, Expect expect = default) =>
        new(key, value, isRemove: false, expect);

    /// <summary>Removes an item; removing an item that does not exist changes nothing.</summary>
    public static ItemWrite<TItem> Remove(ItemKey key, Expect expect = default) =>
        new(key, default, isRemove: true, expect);
}
