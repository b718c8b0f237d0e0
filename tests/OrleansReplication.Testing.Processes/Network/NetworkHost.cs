using System.Net;

namespace OrleansReplication.Testing.Processes.Network;

/// <summary>
/// One host of an <see cref="IsolatedNetwork"/>: a network namespace whose only link is a veth to
/// the network's bridge, with <paramref name="Address"/> on it and no route beyond the bridge.
/// </summary>
/// <param name="Index">The host's position in <see cref="IsolatedNetwork.Hosts"/>.</param>
/// <param name="Namespace">The namespace's name (<c>ip netns exec</c> runs a process in it).</param>
/// <param name="Address">The host's address: the only one it has besides loopback.</param>
public sealed record NetworkHost(int Index, string Namespace, IPAddress Address)
{
    /// <inheritdoc />
    public override string ToString() => $"host {Index} ({Namespace}, {Address})";
}
