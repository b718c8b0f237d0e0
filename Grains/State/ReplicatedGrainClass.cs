using System.Reflection;

namespace OrleansReplication.Grains.State;

/// <summary>
/// What makes a grain class replicated: a constructor parameter marked <see cref="ReplicatedStateAttribute"/>.
/// Checked when the silo starts (its grain manifest), so a mistake stops the silo with a message
/// that says what to change, not the grain's first call.
/// </summary>
internal static class ReplicatedGrainClass
{
    /// <summary>The <c>[ReplicatedState]</c> parameters of <paramref name="grainClass"/>'s constructors.</summary>
    public static IEnumerable<(ParameterInfo Parameter, ReplicatedStateAttribute Attribute)> Facets(Type grainClass) =>
        grainClass.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .SelectMany(c => c.GetParameters())
            .Select(p => (p, p.GetCustomAttribute<ReplicatedStateAttribute>()))
            .Where(f => f.Item2 is not null)
            .Select(f => (f.p, f.Item2!));

    /// <summary>Checks every facet of <paramref name="grainClass"/>; returns whether it has any.</summary>
    /// <exception cref="InvalidOperationException">A facet is malformed, or two share a name.</exception>
    public static bool Check(Type grainClass)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (parameter, attribute) in Facets(grainClass))
        {
            Check(parameter, attribute);
            if (names.TryGetValue(attribute.StateName, out var other) && other != parameter.Name)
            {
                throw new InvalidOperationException($"Grain class {grainClass.FullName} has two [ReplicatedState(\"{attribute.StateName}\")] parameters ('{other}' and '{parameter.Name}'); give each its own state name.");
            }

            names[attribute.StateName] = parameter.Name!;
        }

        return names.Count > 0;
    }

    /// <summary>Checks one facet parameter.</summary>
    /// <exception cref="InvalidOperationException">What is wrong and what to write instead.</exception>
    public static void Check(ParameterInfo parameter, ReplicatedStateAttribute attribute)
    {
        var where = $"[ReplicatedState(\"{attribute.StateName}\")] on parameter '{parameter.Name}' of {parameter.Member.DeclaringType?.FullName}";
        var type = parameter.ParameterType;
        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(IReplicatedState<>))
        {
            throw new InvalidOperationException($"{where}: the parameter is a {type}; it must be an IReplicatedState<TState>.");
        }

        if (GrainStateNames.ValidateStateName(attribute.StateName) is { } error)
        {
            throw new InvalidOperationException($"{where}: {error}");
        }

        if (attribute.StorageName is { Length: 0 })
        {
            throw new InvalidOperationException($"{where}: storageName is empty; name a grain storage of the silo, or leave it out.");
        }
    }
}
