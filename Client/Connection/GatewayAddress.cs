using System.Globalization;

namespace OrleansReplication.Client;

/// <summary>A parsed <c>host:port</c>.</summary>
internal readonly record struct GatewayAddress(string Host, int Port)
{
    public static bool TryParse(string? value, out GatewayAddress address)
    {
        address = default;
        var colon = value?.LastIndexOf(':') ?? -1;
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        address = new GatewayAddress(value![..colon].Trim('[', ']'), port);
        return true;
    }

    public override string ToString() => $"{Host}:{Port}";
}
