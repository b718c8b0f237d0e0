using System.Text.Json;
using OrleansReplication.Grains.State;

namespace OrleansReplication.Silo.Api;

/// <summary>
/// Checks input at every entry point (gateway and HTTP) before it reaches a partition, so bad
/// input gets a typed error and never touches state.
/// </summary>
internal static class RequestValidator
{
    public static void Component(string? component)
    {
        if (StateNames.ValidateComponent(component) is { } error)
        {
            throw new InvalidRequestException(error);
        }
    }

    /// <summary>A public component or a grain's state (<see cref="GrainStateNames"/>): what grains may address in a partition.</summary>
    public static void StoredComponent(string? component)
    {
        if (GrainStateNames.ValidateStoredComponent(component) is { } error)
        {
            throw new InvalidRequestException(error);
        }
    }

    /// <summary>Checks a grain state write: its key, and a value within the limit (Orleans-serialized, so not JSON).</summary>
    public static void GrainStateWrite(in ItemWriteData write, int maxItemBytes)
    {
        Key(write.Key);
        if (write.Json is { Length: var length } && length > maxItemBytes)
        {
            throw new ItemTooLargeException($"The state of grain '{write.Key.Id}' serializes to {length} bytes; the limit is {maxItemBytes} bytes (Silo:MaxItemBytes). Keep less in one state, or split it across several [ReplicatedState] facets.");
        }
    }

    public static void Key(ItemKey key)
    {
        if (StateNames.Validate(key) is { } error)
        {
            throw new InvalidRequestException(error);
        }
    }

    /// <summary>Checks a write's key and, for a set, that its value is within the limit and is one well-formed JSON value.</summary>
    public static void Write(in ItemWriteData write, int maxItemBytes)
    {
        Key(write.Key);
        if (write.Json is { } json)
        {
            Json(json, maxItemBytes, write.Key);
        }
    }

    public static void Json(ReadOnlySpan<byte> json, int maxItemBytes, ItemKey key)
    {
        if (json.Length > maxItemBytes)
        {
            throw new ItemTooLargeException($"Item '{key}' is {json.Length} bytes; the limit is {maxItemBytes} bytes (Silo:MaxItemBytes).");
        }

        if (json.IsEmpty)
        {
            throw new InvalidRequestException($"Item '{key}' is empty; it must be one JSON value (for example {{}} or \"text\").");
        }

        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
            if (!reader.Read())
            {
                throw new InvalidRequestException($"Item '{key}' is empty; it must be one JSON value.");
            }

            reader.Skip();
            if (reader.Read())
            {
                throw new InvalidRequestException($"Item '{key}' has data after its JSON value; it must be one JSON value.");
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidRequestException($"Item '{key}' is not valid JSON: {ex.Message}");
        }
    }

    public static void Safety(SafetyLevel safety)
    {
        if (!Enum.IsDefined(safety))
        {
            throw new InvalidRequestException($"Unknown safety level {(int)safety}; use local, received, applied or durable.");
        }
    }

    public static int Limit(int limit, int max)
    {
        if (limit < 1 || limit > max)
        {
            throw new InvalidRequestException($"limit must be between 1 and {max}; got {limit}.");
        }

        return limit;
    }
}
