namespace OrleansReplication;

/// <summary>
/// Formats and parses the string key of an <see cref="IStateItemGrain"/>:
/// <c>component/id</c>, or with a partition key <c>component/id</c> + U+001F + <c>pk=partitionKey</c> (ids cannot hold control characters, so this is unambiguous). The id may itself contain '/'.
/// </summary>
public static class StateItemGrainKey
{
    private const string PartitionKeyMarker = "\u001fpk=";

    /// <summary>Formats the grain key of an item.</summary>
    public static string Format(string component, ItemKey key) =>
        string.IsNullOrEmpty(key.PartitionKey)
            ? $"{component}/{key.Id}"
            : $"{component}/{key.Id}{PartitionKeyMarker}{key.PartitionKey}";

    /// <summary>Parses a grain key; throws <see cref="InvalidRequestException"/> when it is malformed.</summary>
    public static (string Component, ItemKey Key) Parse(string grainKey)
    {
        var slash = grainKey.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == grainKey.Length - 1)
        {
            throw new InvalidRequestException($"The state item grain key '{grainKey}' must be 'component/id'.");
        }

        var component = grainKey[..slash];
        var rest = grainKey[(slash + 1)..];
        var marker = rest.IndexOf(PartitionKeyMarker, StringComparison.Ordinal);
        var key = marker < 0 ? new ItemKey(rest) : new ItemKey(rest[..marker], rest[(marker + PartitionKeyMarker.Length)..]);
        var error = StateNames.ValidateComponent(component) ?? StateNames.Validate(key);
        return error is null ? (component, key) : throw new InvalidRequestException(error);
    }
}
