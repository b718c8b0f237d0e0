namespace OrleansReplication.Silo.Membership;

/// <summary>
/// Membership settings (section <c>Silo:Membership</c>): the failure-detection timings handed to
/// Orleans' membership (its defaults take 10-60 s to declare a crashed silo dead; these take about
/// a second) and this silo's static placement attributes, published as Orleans silo metadata.
/// </summary>
public sealed class MembershipOptions
{
    /// <summary>
    /// Orleans' probe timeout: how long a probe may go unanswered, and about how often each silo
    /// probes its peers. A crashed process's connection resets, so its probes fail at once.
    /// </summary>
    /// <value>Defaults to 1 second.</value>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Missed probes before a silo votes a peer dead. Two, so a paused silo (SIGSTOP, a frozen VM)
    /// is declared dead in about three seconds, while one slow probe on a loaded host kills nobody.
    /// </summary>
    /// <value>Defaults to 2.</value>
    public int MissedProbesLimit { get; set; } = 2;

    /// <summary>Votes needed to declare a silo dead (Orleans lowers it when fewer silos are alive).</summary>
    /// <value>Defaults to 2.</value>
    public int VotesForDeathDeclaration { get; set; } = 2;

    /// <summary>
    /// How long a live peer may answer none of this silo's pings, while other peers answer, before
    /// this silo declares it dead. Orleans probes a silo also through others, so a link broken
    /// between two live silos (a one-way cut, a firewall rule) kills nobody, and calls routed
    /// across it wait forever; this ends that, at the cost of one of the two. Longer than Orleans'
    /// own detection, which deals with crashed and frozen silos first: a shorter setting waits
    /// twice that (<c>2 x ProbeTimeout x (MissedProbesLimit + 1)</c>) all the same.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns it off.
    /// </summary>
    /// <value>Defaults to 10 seconds.</value>
    public TimeSpan UnreachablePeerDeathDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The delay the reachability monitor applies: the setting, but never within twice Orleans' own detection.</summary>
    internal TimeSpan EffectiveUnreachablePeerDeathDelay =>
        UnreachablePeerDeathDelay == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromTicks(Math.Max(UnreachablePeerDeathDelay.Ticks, 2 * ProbeTimeout.Ticks * (MissedProbesLimit + 1)));

    /// <summary>How often a silo writes IAmAlive to the membership table (for operators and for silos nobody can probe).</summary>
    /// <value>Defaults to 5 seconds.</value>
    public TimeSpan IAmAlivePublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a silo reads the whole membership table besides the gossip it receives.</summary>
    /// <value>Defaults to 2 seconds.</value>
    public TimeSpan TableRefreshTimeout { get; set; } = TimeSpan.FromSeconds(2);

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
