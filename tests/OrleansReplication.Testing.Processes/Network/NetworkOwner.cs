using System.Globalization;
using System.Text.Json;

namespace OrleansReplication.Testing.Processes.Network;

/// <summary>
/// Which process made an <see cref="IsolatedNetwork"/>, written on its bridge (the link's alias),
/// so a later run can tell a live run's network (leave it) from a crashed run's (remove it).
/// </summary>
internal static class NetworkOwner
{
    private const string Marker = "orleansreplication";

    /// <summary>This process, as the alias says it: its pid and start time (a pid alone may be reused).</summary>
    public static string Alias => $"{Marker} pid={Environment.ProcessId} start={StartTime(Environment.ProcessId)}";

    /// <summary>Removes the networks of <paramref name="prefix"/> whose owner is gone; returns the tags still in use.</summary>
    public static async Task<HashSet<int>> RemoveLeftoversAsync(string prefix)
    {
        var bridges = JsonDocument.Parse(await NetworkCommand.RunAsync("ip", ["-j", "link", "show", "type", "bridge"])).RootElement.EnumerateArray()
            .Select(b => (Name: b.GetProperty("ifname").GetString()!, Alias: b.TryGetProperty("ifalias", out var a) ? a.GetString() : null))
            .Where(b => TagOf(b.Name, prefix + "br") is not null)
            .ToList();
        var inUse = new HashSet<int>();
        var dead = new HashSet<int>();
        foreach (var (name, alias) in bridges)
        {
            (IsAlive(alias) ? inUse : dead).Add(TagOf(name, prefix + "br")!.Value);
        }

        // A namespace whose bridge is gone is a leftover too (a run that died while disposing).
        var namespaces = JsonDocument.Parse(await NetworkCommand.RunAsync("ip", ["-j", "netns", "list"]) is { Length: > 0 } json ? json : "[]").RootElement.EnumerateArray()
            .Select(n => n.GetProperty("name").GetString()!)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.Contains('-', StringComparison.Ordinal))
            .ToList();
        foreach (var name in namespaces)
        {
            if (TagOf(name[..name.IndexOf('-', StringComparison.Ordinal)], prefix) is { } tag && !inUse.Contains(tag))
            {
                dead.Add(tag);
            }
        }

        foreach (var tag in dead)
        {
            await IsolatedNetwork.RemoveAsync(prefix, tag, namespaces.Where(n => n.StartsWith($"{prefix}{tag}-", StringComparison.Ordinal)));
        }

        return inUse;
    }

    private static int? TagOf(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var tag) ? tag : null;

    // A bridge without our alias was made by a run that died before it wrote one: not alive.
    private static bool IsAlive(string? alias)
    {
        var fields = (alias ?? string.Empty).Split(' ');
        if (fields.Length != 3 || fields[0] != Marker || !int.TryParse(fields[1].AsSpan("pid=".Length), CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        return StartTime(pid) is { } start && fields[2] == $"start={start}";
    }

    // The process's start time in clock ticks since boot (/proc/PID/stat field 22), null when it is gone.
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        }
        catch (IOException)
        {
            return null;
        }
    }
}
