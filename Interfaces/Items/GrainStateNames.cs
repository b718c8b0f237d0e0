namespace OrleansReplication;

/// <summary>
/// How the state of a user grain's <c>[ReplicatedState]</c> facet is named in the partitions:
/// component <c>grain:{stateName}</c>, item id the grain id (<c>type/key</c>). The prefix is not a
/// valid public component name (<see cref="StateNames.ComponentPattern"/>), so the HTTP API and
/// the client can never read or write a grain's state behind its back; and such items hash by
/// grain id alone, so every facet of a grain lives in the one partition its placement picks.
/// </summary>
public static class GrainStateNames
{
    /// <summary>The component prefix of grain state.</summary>
    public const string ComponentPrefix = "grain:";

    /// <summary>The longest state name, so that the component fits <see cref="StateNames.MaxComponentLength"/>.</summary>
    public const int MaxStateNameLength = StateNames.MaxComponentLength - 6;

    /// <summary>The component of the state named <paramref name="stateName"/>.</summary>
    public static string Component(string stateName) => ComponentPrefix + stateName;

    /// <summary>Whether <paramref name="component"/> holds grain state.</summary>
    public static bool IsGrainState(string? component) => component is not null && component.StartsWith(ComponentPrefix, StringComparison.Ordinal);

    /// <summary>Returns why <paramref name="stateName"/> is not a valid state name, or <see langword="null"/> when it is.</summary>
    public static string? ValidateStateName(string? stateName) =>
        stateName is { Length: > MaxStateNameLength }
            ? $"The state name '{stateName}' is {stateName.Length} characters long; the limit is {MaxStateNameLength}."
            : StateNames.ValidateComponent(stateName)?.Replace("component name", "state name", StringComparison.Ordinal);

    /// <summary>Returns why <paramref name="component"/> is neither a valid public component nor grain state, or <see langword="null"/>.</summary>
    public static string? ValidateStoredComponent(string? component) =>
        IsGrainState(component) ? ValidateStateName(component![ComponentPrefix.Length..]) : StateNames.ValidateComponent(component);
}
