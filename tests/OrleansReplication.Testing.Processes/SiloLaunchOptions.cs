using OrleansReplication.Testing.Processes.Network;

namespace OrleansReplication.Testing.Processes;

/// <summary>How to launch one silo process; keep it to restart "the same" silo.</summary>
public sealed record SiloLaunchOptions
{
    /// <summary>The data directory (the SQLite store unless the arguments name another); reuse it to restart "the same" silo.</summary>
    public required string DataDir { get; init; }

    /// <summary>More command-line options, e.g. <c>--partitions 8</c>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment variables set for the silo (configuration such as <c>Silo__Placement__ReplicationFactor</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The instance number (its ports, hence its silo id); null: a free one. Restarting on the same
    /// instance restarts "the same" silo, as Kubernetes does, so clients configured with its
    /// endpoints find it again.
    /// </summary>
    public int? Instance { get; init; }

    /// <summary>How long the silo may take to answer <c>GET /healthz/ready</c>.</summary>
    public TimeSpan ReadyDeadline { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The network namespace to run in (<c>ip netns exec</c>), whose address the silo listens on and
    /// advertises; null: the root namespace on 127.0.0.1.
    /// </summary>
    public NetworkHost? Network { get; init; }

    /// <summary>The most characters of stdout (and of stderr) kept, the latest; null keeps all (a long benchmark run must not grow its memory).</summary>
    public int? OutputLimit { get; init; }
}
