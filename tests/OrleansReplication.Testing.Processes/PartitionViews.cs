using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansReplication.Testing.Processes;

/// <summary>
/// The partition map as silos serve it over HTTP, and the one way to judge replication: each
/// partition as its own primary sees it (only the primary knows whether its standbys are in sync).
/// </summary>
public static class PartitionViews
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A silo's id (<c>GET /v1/cluster</c>).</summary>
    public static async Task<string> IdAsync(HttpClient silo) =>
        (await silo.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!;

    /// <summary>The partition rows as a silo sees them (<c>GET /v1/cluster/partitions</c>).</summary>
    public static async Task<List<JsonElement>> PartitionsAsync(HttpClient silo) =>
        [.. (await silo.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray()];

    /// <summary>The silo leading the most partitions in <paramref name="map"/>.</summary>
    public static string BusiestPrimary(IEnumerable<JsonElement> map) =>
        map.GroupBy(p => p.GetProperty("primary").GetString()!).OrderByDescending(g => g.Count()).First().Key;

    /// <summary>
    /// The first reason <paramref name="map"/> is not settled, or null when it is: every partition
    /// led by one of <paramref name="live"/> (silo id to its HTTP client), none leading more than
    /// <paramref name="maxLeads"/>, and each partition, as its primary sees it, still led by it and
    /// passing <paramref name="settled"/> (given the primary's id and its row).
    /// </summary>
    public static async Task<string?> FirstUnsettledAsync(IReadOnlyDictionary<string, HttpClient> live, IEnumerable<JsonElement> map, int maxLeads, Func<string, JsonElement, bool> settled)
    {
        var leads = map.GroupBy(p => p.GetProperty("primary").GetString() ?? string.Empty).ToList();
        if (leads.FirstOrDefault(g => !live.ContainsKey(g.Key) || g.Count() > maxLeads) is { } bad)
        {
            return $"'{bad.Key}' leads {bad.Count()} partitions (at most {maxLeads}; live: {string.Join(", ", live.Keys)})";
        }

        foreach (var group in leads)
        {
            var seenByPrimary = (await PartitionsAsync(live[group.Key])).ToDictionary(p => p.GetProperty("id").GetInt32());
            foreach (var row in group)
            {
                var view = seenByPrimary[row.GetProperty("id").GetInt32()];
                if (view.GetProperty("primary").GetString() != group.Key || !settled(group.Key, view))
                {
                    // Indented: a CI log that shows a part of each long line still shows the whole row.
                    return $"partition {row.GetProperty("id")} as its primary {group.Key} sees it:{Environment.NewLine}{JsonSerializer.Serialize(view, Indented)}";
                }
            }
        }

        return null;
    }

    /// <summary>A partition row's standbys.</summary>
    public static List<JsonElement> Standbys(JsonElement view) => [.. view.GetProperty("standbys").EnumerateArray()];

    /// <summary>Whether a standby row says it is in sync.</summary>
    /// <remarks>A standby the primary has no link to yet has no <c>inSync</c> (nulls are left out).</remarks>
    public static bool InSync(JsonElement standby) => standby.TryGetProperty("inSync", out var inSync) && inSync.ValueKind == JsonValueKind.True;

    /// <summary>The silo holding a standby row.</summary>
    public static string SiloOf(JsonElement standby) => standby.GetProperty("silo").GetString()!;

    /// <summary>Whether a standby applied everything its primary wrote (<paramref name="view"/> is the primary's row).</summary>
    public static bool AtLastSequence(JsonElement standby, JsonElement view) =>
        standby.TryGetProperty("appliedSequence", out var applied) && applied.ValueKind == JsonValueKind.Number
        && applied.GetInt64() == view.GetProperty("lastSequence").GetInt64();
}
