using System.Linq.Expressions;
using System.Reflection;

namespace OrleansReplication.Client;

/// <summary>Finds and compiles, once per item type, the getter of the <see cref="StateKeyAttribute"/> property.</summary>
internal static class StateKeyAccessor<TItem>
{
    public static readonly Func<TItem, ItemKey>? Selector = Build();

    private static Func<TItem, ItemKey>? Build()
    {
        var property = typeof(TItem).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => p.GetCustomAttribute<StateKeyAttribute>() is not null);
        if (property is null)
        {
            return null;
        }

        if (property.PropertyType != typeof(string))
        {
            throw new InvalidOperationException($"[StateKey] property {typeof(TItem).Name}.{property.Name} must be a string.");
        }

        var item = Expression.Parameter(typeof(TItem), "item");
        var getter = Expression.Lambda<Func<TItem, string>>(Expression.Property(item, property), item).Compile();
        return value => new ItemKey(getter(value));
    }
}
