using System.Net;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Testing.Processes.Network;

namespace OrleansReplication.Tests.Processes;

/// <summary>The harness itself: silos in their namespaces, and cuts that drop exactly what they say.</summary>
public sealed partial class NetworkPartitionTests
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Harness_SilosRunInTheirNamespaces_CutsDropPacketsAndHealRestores()
    {
        // Three one-silo clusters (a data directory each): cutting them apart moves nothing.
        await Network.HealAsync();
        var silos = new List<SiloProcess>();
        try
        {
            foreach (var host in Network.Hosts)
            {
                silos.Add(await SiloProcess.StartAsync(new SiloLaunchOptions { DataDir = Path.Combine(_dataDir.Path, $"h{host.Index}"), Network = host, Arguments = ["--partitions", "2"] }));
            }

            var ownNamespace = new FileInfo("/proc/self/ns/net").LinkTarget;
            foreach (var (silo, host) in silos.Zip(Network.Hosts))
            {
                // The pid is the silo itself (ip netns exec execs), so signals reach it.
                Assert.EndsWith("dotnet", new FileInfo($"/proc/{silo.ProcessId}/exe").LinkTarget, StringComparison.Ordinal);
                Assert.NotEqual(ownNamespace, new FileInfo($"/proc/{silo.ProcessId}/ns/net").LinkTarget);
                Assert.Contains(host.Address.ToString(), silo.SiloId, StringComparison.Ordinal);
            }

            // Nothing beyond the bridge; loopback is the namespace's own; the root namespace's services through the bridge.
            var store = new IPEndPoint(Network.BridgeAddress, fixture.StorePort);
            await ExpectAsync(0, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 80), TcpProbe.Unreachable, "an address beyond the bridge (TEST-NET-1)");
            await ExpectAsync(0, new IPEndPoint(IPAddress.Loopback, fixture.StorePort), TcpProbe.Refused, "the store's port on the namespace's own loopback");
            await ExpectAsync(0, store, TcpProbe.Connected, "the store through the bridge");
            await ExpectAsync(0, silos[1].SiloEndPoint, TcpProbe.Connected, "a peer's silo port");

            // A symmetric cut (asked twice: idempotent) drops both ways between those two only.
            await Network.CutAsync(0, 1);
            await Network.CutAsync(0, 1);
            await ExpectAsync(0, silos[1].SiloEndPoint, TcpProbe.TimedOut, "the peer cut off");
            await ExpectAsync(1, silos[0].SiloEndPoint, TcpProbe.TimedOut, "the peer cut off, the other way");
            await ExpectAsync(0, silos[2].SiloEndPoint, TcpProbe.Connected, "a peer not cut off");
            Assert.True((await silos[0].Http.GetAsync("healthz/ready")).IsSuccessStatusCode, "The root namespace lost host 0 to a cut between hosts 0 and 1.");
            await Network.HealAsync();
            await ExpectAsync(0, silos[1].SiloEndPoint, TcpProbe.Connected, "the peer after healing");

            // One way: 0's packets to 1 vanish, 1's reach 0 (0 answers 1's SYN; its answer is what is dropped).
            await Network.CutOneWayAsync(0, 1);
            await ExpectAsync(1, silos[0].SiloEndPoint, TcpProbe.TimedOut, "host 0 from host 1, whose SYN arrives but whose SYN-ACK is dropped");
            Assert.True(await Network.DroppedPacketsAsync(0) > 0, "Host 0 dropped nothing: host 1's SYN never reached it.");
            Assert.Equal(0, await Network.DroppedPacketsAsync(1));
            await ExpectAsync(2, silos[0].SiloEndPoint, TcpProbe.Connected, "host 0 from the third host");
            await Network.HealAsync();

            // Cut from the store: that port only; the root namespace still reaches the host.
            await Network.CutFromServiceAsync(0, fixture.StorePort);
            await ExpectAsync(0, store, TcpProbe.TimedOut, "the store from the host cut off from it");
            await ExpectAsync(1, store, TcpProbe.Connected, "the store from another host");
            await ExpectAsync(0, silos[1].SiloEndPoint, TcpProbe.Connected, "a peer from the host cut off from the store");
            Assert.True((await silos[0].Http.GetAsync("healthz/ready")).IsSuccessStatusCode, "The root namespace lost host 0 to a cut from the store.");
            await Network.HealAsync();
            await Network.HealAsync();
            await ExpectAsync(0, store, TcpProbe.Connected, "the store after healing");
        }
        finally
        {
            await Network.HealAsync();
            await ProcessCluster.DisposeAllAsync(silos);
        }
    }

    private async Task ExpectAsync(int from, IPEndPoint to, TcpProbe expected, string what)
    {
        var probe = await Network.ProbeTcpAsync(from, to, ProbeTimeout);
        Assert.True(probe == expected, $"A TCP connect from {Network.Hosts[from]} to {to} ({what}): {probe}, expected {expected}.");
    }
}
