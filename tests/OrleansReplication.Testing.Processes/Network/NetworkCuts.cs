using System.Text;

namespace OrleansReplication.Testing.Processes.Network;

/// <summary>
/// The drop rules in force, per host, and the nftables table each host's rules make (<c>inet
/// nemesis</c> in its namespace). Rules are sets, so asking for a cut twice changes nothing.
/// </summary>
internal sealed class NetworkCuts(int hosts)
{
    public const string Table = "nemesis";

    private readonly SortedSet<string>[] _input = [.. Enumerable.Range(0, hosts).Select(_ => new SortedSet<string>(StringComparer.Ordinal))];
    private readonly SortedSet<string>[] _output = [.. Enumerable.Range(0, hosts).Select(_ => new SortedSet<string>(StringComparer.Ordinal))];

    /// <summary>Drops what <paramref name="host"/> receives that matches <paramref name="match"/>; whether that is new.</summary>
    public bool DropIncoming(int host, string match) => _input[host].Add(match);

    /// <summary>Drops what <paramref name="host"/> sends that matches <paramref name="match"/>; whether that is new.</summary>
    public bool DropOutgoing(int host, string match) => _output[host].Add(match);

    /// <summary>Forgets every rule.</summary>
    public void Clear()
    {
        foreach (var rules in _input.Concat(_output))
        {
            rules.Clear();
        }
    }

    /// <summary>
    /// An <c>nft -f</c> script replacing <paramref name="host"/>'s table in one transaction (create,
    /// delete, create again: the delete cannot fail on a missing table). Drops, not rejects: a
    /// partition sends nothing back. Each rule counts what it dropped.
    /// </summary>
    public string Script(int host)
    {
        var script = new StringBuilder()
            .AppendLine($"table inet {Table}")
            .AppendLine($"delete table inet {Table}")
            .AppendLine($"table inet {Table} {{");
        foreach (var (chain, rules) in new[] { ("input", _input[host]), ("output", _output[host]) })
        {
            script.AppendLine($"  chain {chain} {{").AppendLine($"    type filter hook {chain} priority 0; policy accept;");
            foreach (var match in rules)
            {
                script.AppendLine($"    {match} counter drop");
            }

            script.AppendLine("  }");
        }

        return script.AppendLine("}").ToString();
    }
}
