using System.Globalization;

namespace OrleansReplication;

/// <summary>An item's version as an entity tag (<c>"7"</c>): what the HTTP API sends and a grain's replicated state shows.</summary>
public static class ETags
{
    /// <summary>The entity tag of <paramref name="version"/>.</summary>
    public static string Of(long version) => "\"" + version.ToString(CultureInfo.InvariantCulture) + "\"";
}
