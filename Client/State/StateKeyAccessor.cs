using System.Linq.Expressions;
using System.Reflection;

namespace OrleansReplication.Client;

/// <summary>Finds and compiles, once per item type, the getter and setter of the <see cref="StateKeyAttribute"/> property.</summary>
internal static class StateKeyAccessor<TItem>
{
    private static readonly PropertyInfo? Property = typeof(TItem).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .FirstOrDefault(p => p.GetCustomAttribute<StateKeyAttribute>() is not null);

    public static readonly Func<TItem, ItemKey>? Selector = BuildSelector();

    // Sets the key property of an item read back whose JSON lacks it (written over HTTP, or by a
    // key-value write): the item's id is its key, wherever it was written from.
    private static readonly Action<TItem, string>? Setter = BuildSetter();

    /// <summary>Fills <paramref name="item"/>'s <see cref="StateKeyAttribute"/> property with the id of <paramref name="key"/> when it is empty.</summary>
    public static TItem Fill(TItem item, ItemKey key)
    {
        if (Setter is not null && item is not null && Selector is not null && string.IsNullOrEmpty(Getter!(item)))
        {
            Setter(item, key.Id);
        }

        return item;
    }

    private static readonly Func<TItem, string?>? Getter = Property is null || Property.PropertyType != typeof(string) || !Property.CanRead
        ? null
        : BuildGetter(Property);

    private static Func<TItem, ItemKey>? BuildSelector()
    {
        if (Property is null)
        {
            return null;
        }

        if (Property.PropertyType != typeof(string))
        {
            throw new InvalidOperationException($"[StateKey] property {typeof(TItem).Name}.{Property.Name} must be a string.");
        }

        var getter = BuildGetter(Property);
        return value => new ItemKey(getter(value)!);
    }

    private static Func<TItem, string?> BuildGetter(PropertyInfo property)
    {
        var item = Expression.Parameter(typeof(TItem), "item");
        return Expression.Lambda<Func<TItem, string?>>(Expression.Property(item, property), item).Compile();
    }

    private static Action<TItem, string>? BuildSetter()
    {
        // Reference types only: a struct's copy would be filled, not the caller's item. An init-only
        // setter is set by reflection (the item was just deserialized: nobody else holds it yet).
        if (Property is null || Property.PropertyType != typeof(string) || typeof(TItem).IsValueType || Property.SetMethod is not { } setter)
        {
            return null;
        }

        return (item, id) => setter.Invoke(item, [id]);
    }
}
