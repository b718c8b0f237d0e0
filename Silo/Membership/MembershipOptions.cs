namespace OrleansReplication.Silo.Membership;

/// <summary>Membership settings (section <c>Silo:Membership</c>) and this silo's static placement attributes.</summary>
public sealed class MembershipOptions
{
    /// <summary>How often this silo writes IAmAlive (and its dynamic attributes) to the table.</summary>
    /// <value>Defaults to 500 ms.</value>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often this silo reads the table to refresh its view of the cluster.</summary>
    /// <value>Defaults to 500 ms.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a peer's IAmAlive may stand still, as observed by this silo's own clock (so clock
    /// skew between machines does not matter), before this silo declares it dead in the table.
    /// </summary>
    /// <value>Defaults to 5 seconds (10 missed heartbeats).</value>
    public TimeSpan DeathTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Availability zone of this silo ("" when unknown); replicas avoid sharing one.</summary>
    /// <value>Defaults to empty.</value>
    public string Zone { get; set; } = string.Empty;

    /// <summary>Physical host or Kubernetes node of this silo; replicas avoid sharing one.</summary>
    /// <value>Defaults to the machine name.</value>
    public string Host { get; set; } = Environment.MachineName;

    /// <summary>Rack of this silo ("" when unknown).</summary>
    /// <value>Defaults to empty.</value>
    public string Rack { get; set; } = string.Empty;
}
