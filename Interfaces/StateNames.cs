using System.Text;

namespace OrleansReplication;

/// <summary>
/// The rules for component names, item ids and partition keys, shared by the client, the
/// gateway and the HTTP API so every entry point rejects the same input with the same words.
/// </summary>
public static class StateNames
{
    /// <summary>The longest component name, in characters.</summary>
    public const int MaxComponentLength = 64;

    /// <summary>The longest item id or partition key, in UTF-8 bytes (fits a store index and a URL).</summary>
    public const int MaxIdBytes = 512;

    /// <summary>The documented component name pattern.</summary>
    public const string ComponentPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

    /// <summary>Returns why <paramref name="component"/> is not a valid component name, or <see langword="null"/> when it is.</summary>
    public static string? ValidateComponent(string? component)
    {
        if (string.IsNullOrEmpty(component))
        {
            return "The component name is empty; it must match " + ComponentPattern + ".";
        }

        if (component.Length > MaxComponentLength)
        {
            return $"The component name is {component.Length} characters long; the limit is {MaxComponentLength}.";
        }

        for (var i = 0; i < component.Length; i++)
        {
            var c = component[i];
            var ok = char.IsAsciiLetterOrDigit(c) || (i > 0 && c is '.' or '_' or '-');
            if (!ok)
            {
                return $"The component name '{Printable(component)}' has '{Printable(c.ToString())}' at position {i}; it must match {ComponentPattern}.";
            }
        }

        return null;
    }

    /// <summary>Returns why <paramref name="id"/> is not a valid item id, or <see langword="null"/> when it is.</summary>
    public static string? ValidateId(string? id) => ValidateKeyPart(id, "item id");

    /// <summary>Returns why <paramref name="partitionKey"/> is not a valid partition key (null and empty mean "none"), or <see langword="null"/>.</summary>
    public static string? ValidatePartitionKey(string? partitionKey) =>
        string.IsNullOrEmpty(partitionKey) ? null : ValidateKeyPart(partitionKey, "partition key");

    /// <summary>Returns why <paramref name="key"/> is not valid, or <see langword="null"/> when it is.</summary>
    public static string? Validate(ItemKey key) => ValidateId(key.Id) ?? ValidatePartitionKey(key.PartitionKey);

    private static string? ValidateKeyPart(string? value, string what)
    {
        if (string.IsNullOrEmpty(value))
        {
            return $"The {what} is empty; it must be 1 to {MaxIdBytes} UTF-8 bytes.";
        }

        // Length in chars bounds the UTF-8 length from both sides (1..3 bytes a char), so the
        // exact count is only computed near the limit.
        if (value.Length * 3 > MaxIdBytes)
        {
            var bytes = Encoding.UTF8.GetByteCount(value);
            if (bytes > MaxIdBytes)
            {
                return $"The {what} is {bytes} UTF-8 bytes long; the limit is {MaxIdBytes}.";
            }
        }

        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                return $"The {what} contains the control character U+{(int)c:X4}; control characters are not allowed.";
            }
        }

        return null;
    }

    private static string Printable(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 80));
        foreach (var c in s.Length > 80 ? s[..80] : s)
        {
            sb.Append(char.IsControl(c) ? '?' : c);
        }

        return sb.ToString();
    }
}
