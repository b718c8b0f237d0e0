namespace OrleansReplication.Silo.Membership;

/// <summary>Membership settings (section <c>Silo:Membership</c>) and this silo's static placement attributes.</summary>
public sealed class MembershipOptions
{
    /// <summary>How often this silo writes IAmAlive (and its dynamic attributes) to the table.</summary>
    /// <value>Defaults to 250 ms.</value>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often this silo reads the table to refresh its view of the cluster.</summary>
    /// <value>Defaults to 500 ms.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a peer's IAmAlive may stand still, as observed by this silo's own clock (so clock
    /// skew between machines does not matter), before this silo declares it dead in the table.
    /// </summary>
    /// <remarks>The slow path, for a peer nobody can probe; a suspected peer is confirmed much sooner (<see cref="SuspicionConfirmTimeout"/>).</remarks>
    /// <value>Defaults to 5 seconds (20 missed heartbeats).</value>
    public TimeSpan DeathTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often this silo probes every live peer (Ping over the silo-to-silo connection).</summary>
    /// <value>Defaults to 150 ms.</value>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMilliseconds(150);

    /// <summary>
    /// How long a peer may leave probes unanswered before this silo suspects it (a paused or
    /// partitioned silo). A broken or refused connection (a crashed process) is suspected at once.
    /// Kept well above a GC pause or a CPU-starved scheduler, which must not depose a primary.
    /// </summary>
    /// <remarks>Such a suspicion is confirmed only by a heartbeat that stood still as long (probes
    /// share the connection with replication traffic, and a 2-core machine under load delays both).</remarks>
    /// <value>Defaults to 2 seconds.</value>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a suspected peer's IAmAlive must stand still in the table (this silo's own clock)
    /// before this silo declares it dead: the table's confirmation of the suspicion, so one
    /// silo's broken connection alone never kills a peer that still heartbeats. Must exceed
    /// <see cref="HeartbeatInterval"/> with margin for a slow store write.
    /// </summary>
    /// <value>Defaults to 600 ms: a crashed process is declared dead well under a second after it died.</value>
    public TimeSpan SuspicionConfirmTimeout { get; set; } = TimeSpan.FromMilliseconds(600);

    /// <summary>
    /// As <see cref="SuspicionConfirmTimeout"/>, for an active peer whose silo port refused a
    /// connection after it had been reached (tried at once when the connection broke): nothing
    /// listens there any more, a second sign independent of the broken connection (a loaded or
    /// partitioned process times out, it does not refuse; a draining one is confirmed by its
    /// heartbeat as usual). Zero: declared dead at the table read right after the refusal.
    /// </summary>
    /// <remarks>Raise it (above <see cref="HeartbeatInterval"/>) where a firewall may answer with resets.</remarks>
    /// <value>Defaults to zero: a crashed process is declared dead within milliseconds of its connections' reset.</value>
    public TimeSpan RefusedConfirmTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long a stopping silo (SIGTERM) waits for its primaries to be handed off to in-sync
    /// standbys before it stops anyway (the rest then fail over when it is gone).
    /// </summary>
    /// <value>Defaults to 15 seconds.</value>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(15);

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
