using System.Globalization;
using System.Net;
using System.Text.Json;

namespace OrleansReplication.Testing.Processes.Network;

/// <summary>
/// Hosts in network namespaces of the test's own, and a partition between them on demand: a
/// Linux bridge in the root namespace with a private /24 (<see cref="BridgeAddress"/>, through which
/// this process reaches the hosts and they reach services here, such as the store), and per host a
/// namespace whose only links are loopback and a veth to the bridge, with no route beyond it. Cuts
/// are nftables drop rules in the hosts' namespaces (table <c>inet nemesis</c>): packets vanish, as
/// in a real partition. Needs root, <c>ip</c> (iproute2) and <c>nft</c> (nftables).
/// </summary>
/// <remarks>
/// Names start with <see cref="Prefix"/> and a tag (the subnet's third octet): bridge
/// <c>ornbr{tag}</c>, namespaces <c>orn{tag}-{i}</c>, veths <c>orn{tag}v{i}</c>. A tag in use by a
/// live run is never taken; networks of runs that died are removed at the next creation.
/// </remarks>
public sealed class IsolatedNetwork : IAsyncDisposable
{
    /// <summary>The prefix of every bridge, veth and namespace this class makes.</summary>
    public const string Prefix = "orn";

    /// <summary>The subnet's length: the bridge's and hosts' addresses are in one /24.</summary>
    public const int PrefixLength = 24;

    private const int FirstHostOctet = 10;
    private const int CreateAttempts = 10;

    // 10.213.0.0/16 holds every tag's /24: one uncommon /16, so a collision with a real network is unlikely.
    private static readonly byte[] Network16 = [10, 213];

    private readonly int _tag;
    private readonly NetworkCuts _cuts;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private int _disposed;

    private IsolatedNetwork(int tag, int hosts)
    {
        _tag = tag;
        _cuts = new NetworkCuts(hosts);
        BridgeAddress = AddressOf(tag, 1);
        Hosts = [.. Enumerable.Range(0, hosts).Select(i => new NetworkHost(i, $"{Prefix}{tag}-{i}", AddressOf(tag, FirstHostOctet + i)))];
    }

    /// <summary>The root namespace's address on the bridge: where the hosts reach this process's services.</summary>
    public IPAddress BridgeAddress { get; }

    /// <summary>The bridge's name.</summary>
    public string Bridge => $"{Prefix}br{_tag}";

    /// <summary>The subnet in CIDR notation (e.g. for a server's list of trusted clients).</summary>
    public string Subnet => $"{Network16[0]}.{Network16[1]}.{_tag}.0/{PrefixLength}";

    /// <summary>The hosts, each in its namespace.</summary>
    public IReadOnlyList<NetworkHost> Hosts { get; }

    /// <summary>Creates a bridge and <paramref name="hosts"/> namespaces on a subnet no live run uses; removes dead runs' networks first.</summary>
    public static async Task<IsolatedNetwork> CreateAsync(int hosts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hosts, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hosts, 200);
        NetworkCommand.EnsureAvailable();
        var inUse = await NetworkOwner.RemoveLeftoversAsync(Prefix);
        var routes = await NetworkCommand.RunAsync("ip", ["-4", "-o", "addr", "show"]) + await NetworkCommand.RunAsync("ip", ["-4", "route", "show", "table", "all"]);
        var free = Enumerable.Range(0, 256).Where(t => !inUse.Contains(t) && !routes.Contains($"{Network16[0]}.{Network16[1]}.{t}.", StringComparison.Ordinal)).ToList();
        for (var attempt = 1; ; attempt++)
        {
            if (free.Count == 0)
            {
                throw new InvalidOperationException($"No free /24 in {Network16[0]}.{Network16[1]}.0.0/16 for a test network: every one is in use or routed.");
            }

            var tag = free[Random.Shared.Next(free.Count)];
            free.Remove(tag);
            var network = new IsolatedNetwork(tag, hosts);

            // Another run may take the same tag between our look and our bridge: its name is then taken.
            var bridge = await NetworkCommand.TryRunAsync("ip", ["link", "add", network.Bridge, "type", "bridge"]);
            if (bridge.ExitCode != 0 && attempt < CreateAttempts && bridge.Error.Contains("File exists", StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                if (bridge.ExitCode != 0)
                {
                    throw new InvalidOperationException(bridge.ToString());
                }

                await network.BuildAsync();
                return network;
            }
            catch
            {
                await network.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Drops every packet between hosts <paramref name="a"/> and <paramref name="b"/>, both ways.</summary>
    public Task CutAsync(int a, int b) => ApplyAsync([a, b], () =>
    {
        _cuts.DropOutgoing(a, $"ip daddr {Hosts[b].Address}");
        _cuts.DropIncoming(a, $"ip saddr {Hosts[b].Address}");
        _cuts.DropOutgoing(b, $"ip daddr {Hosts[a].Address}");
        _cuts.DropIncoming(b, $"ip saddr {Hosts[a].Address}");
    });

    /// <summary>
    /// Drops what <paramref name="from"/> sends to <paramref name="to"/>; what <paramref name="to"/>
    /// sends to <paramref name="from"/> is still delivered (so TCP between them fails both ways,
    /// but each end sees something different: its SYNs answered, or not).
    /// </summary>
    public Task CutOneWayAsync(int from, int to) => ApplyAsync([from], () => _cuts.DropOutgoing(from, $"ip daddr {Hosts[to].Address}"));

    /// <summary>
    /// Drops the traffic between <paramref name="host"/> and a service listening on
    /// <see cref="BridgeAddress"/>:<paramref name="port"/> in the root namespace (the store), both
    /// ways; the host's other traffic with the root namespace (clients, this process) still flows.
    /// </summary>
    public Task CutFromServiceAsync(int host, int port) => ApplyAsync([host], () =>
    {
        _cuts.DropOutgoing(host, $"ip daddr {BridgeAddress} tcp dport {port}");
        _cuts.DropIncoming(host, $"ip saddr {BridgeAddress} tcp sport {port}");
    });

    /// <summary>Removes every cut: all traffic flows again (connections the cuts broke stay broken).</summary>
    public Task HealAsync() => ApplyAsync([.. Hosts.Select(h => h.Index)], _cuts.Clear);

    /// <summary>Packets dropped so far by <paramref name="host"/>'s rules (nftables counters; rules a heal removed no longer count).</summary>
    public async Task<long> DroppedPacketsAsync(int host)
    {
        var table = await InNamespaceAsync(host, "nft", ["-j", "list", "table", "inet", NetworkCuts.Table]);
        return JsonDocument.Parse(table).RootElement.GetProperty("nftables").EnumerateArray()
            .Where(e => e.TryGetProperty("rule", out _))
            .SelectMany(e => e.GetProperty("rule").GetProperty("expr").EnumerateArray())
            .Where(x => x.TryGetProperty("counter", out _))
            .Sum(x => x.GetProperty("counter").GetProperty("packets").GetInt64());
    }

    /// <summary>Tries a TCP connection from inside <paramref name="host"/>'s namespace to <paramref name="target"/>.</summary>
    public async Task<TcpProbe> ProbeTcpAsync(int host, IPEndPoint target, TimeSpan timeout)
    {
        var seconds = timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        var result = await NetworkCommand.TryRunAsync("ip", ["netns", "exec", Hosts[host].Namespace, "timeout", seconds, "bash", "-c", "exec 3<>/dev/tcp/$0/$1", target.Address.ToString(), target.Port.ToString(CultureInfo.InvariantCulture)]);
        return result switch
        {
            { ExitCode: 0 } => TcpProbe.Connected,
            { ExitCode: 124 } => TcpProbe.TimedOut,
            _ when result.Error.Contains("refused", StringComparison.Ordinal) => TcpProbe.Refused,
            _ when result.Error.Contains("unreachable", StringComparison.Ordinal) || result.Error.Contains("No route", StringComparison.Ordinal) => TcpProbe.Unreachable,
            _ => throw new InvalidOperationException($"Probing {target} from {Hosts[host]}: {result}"),
        };
    }

    /// <summary>Removes the namespaces (killing what still runs in them: only this network's processes can), veths and bridge.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await RemoveAsync(Prefix, _tag, Hosts.Select(h => h.Namespace));
        _lock.Dispose();
    }

    /// <summary>Removes tag <paramref name="tag"/>'s network; what is already gone is skipped, any other failure thrown after trying the rest.</summary>
    internal static async Task RemoveAsync(string prefix, int tag, IEnumerable<string> namespaces)
    {
        var failures = new List<string>();
        foreach (var name in namespaces)
        {
            if (await NetworkCommand.TryRunAsync("ip", ["netns", "pids", name]) is { ExitCode: 0 } pids)
            {
                foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    await NetworkCommand.TryRunAsync("kill", ["-KILL", pid]);
                }
            }

            var veth = $"{prefix}{tag}v{name[(name.LastIndexOf('-') + 1)..]}";
            Expect(await NetworkCommand.TryRunAsync("ip", ["link", "del", veth]), failures);
            Expect(await NetworkCommand.TryRunAsync("ip", ["netns", "del", name]), failures);
        }

        Expect(await NetworkCommand.TryRunAsync("ip", ["link", "del", $"{prefix}br{tag}"]), failures);
        if (failures.Count > 0)
        {
            throw new InvalidOperationException($"Removing test network {prefix}{tag} failed:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
        }
    }

    private static void Expect(ToolProcess.Result result, List<string> failures)
    {
        // Gone already (never made, or the namespace took its veth with it) is what removal wants.
        if (result.ExitCode != 0 && !result.Error.Contains("Cannot find device", StringComparison.Ordinal) && !result.Error.Contains("No such file", StringComparison.Ordinal))
        {
            failures.Add(result.ToString());
        }
    }

    private static IPAddress AddressOf(int tag, int host) => new([Network16[0], Network16[1], (byte)tag, (byte)host]);

    // The bridge exists; its alias names the owner before anything else is made, so a crash from here on leaves a removable network.
    private async Task BuildAsync()
    {
        await NetworkCommand.RunAsync("ip", ["link", "set", "dev", Bridge, "alias", NetworkOwner.Alias]);
        await NetworkCommand.RunAsync("ip", ["addr", "add", $"{BridgeAddress}/{PrefixLength}", "dev", Bridge]);
        await NetworkCommand.RunAsync("ip", ["link", "set", "dev", Bridge, "up"]);
        foreach (var host in Hosts)
        {
            var veth = $"{Prefix}{_tag}v{host.Index}";
            await NetworkCommand.RunAsync("ip", ["netns", "add", host.Namespace]);
            await NetworkCommand.RunAsync("ip", ["-n", host.Namespace, "link", "set", "lo", "up"]);
            await NetworkCommand.RunAsync("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.Namespace]);
            await NetworkCommand.RunAsync("ip", ["link", "set", "dev", veth, "master", Bridge, "up"]);
            await NetworkCommand.RunAsync("ip", ["-n", host.Namespace, "addr", "add", $"{host.Address}/{PrefixLength}", "dev", "eth0"]);
            await NetworkCommand.RunAsync("ip", ["-n", host.Namespace, "link", "set", "dev", "eth0", "up"]);
            await InNamespaceAsync(host.Index, "nft", ["-f", "-"], _cuts.Script(host.Index));
        }
    }

    // Changes the rules, then rewrites the touched hosts' tables; one change at a time, so the rules and the tables agree.
    private async Task ApplyAsync(int[] hosts, Action change)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _lock.WaitAsync();
        try
        {
            change();
            foreach (var host in hosts.Distinct())
            {
                await InNamespaceAsync(host, "nft", ["-f", "-"], _cuts.Script(host));
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private Task<string> InNamespaceAsync(int host, string tool, IReadOnlyList<string> arguments, string? input = null) =>
        NetworkCommand.RunAsync("ip", ["netns", "exec", Hosts[host].Namespace, NetworkCommand.Find(tool) ?? tool, .. arguments], input);
}
