namespace OrleansReplication.Silo.Membership;

/// <summary>
/// Which live peers this silo has not been able to reach for too long, from the answers to its
/// pings (<see cref="PeerReachabilityMonitor"/>). A peer is condemned only while another peer
/// answers: a silo that reaches nobody is the one cut off, and Orleans' majority deals with it. With
/// one peer only, which side is cut cannot be told, so nobody is condemned.
/// </summary>
/// <param name="deathDelay">How long a peer may answer nothing before it is condemned.</param>
internal sealed class PeerReachability(TimeSpan deathDelay)
{
    // Per live peer: when it last answered (or was first seen), in TimeProvider timestamps.
    private readonly Dictionary<SiloIncarnation, long> _lastAnswered = [];

    /// <summary>
    /// Records one <paramref name="round"/> of pings at <paramref name="now"/>: whether each live
    /// peer answered (peers no longer listed are forgotten; a new one counts from now). Returns the
    /// peers to declare dead, each with how long it has been silent.
    /// </summary>
    public List<(SiloIncarnation Peer, TimeSpan Silent)> Record(IReadOnlyList<(SiloIncarnation Peer, bool Answered)> round, long now, TimeProvider time)
    {
        foreach (var gone in _lastAnswered.Keys.Where(p => !round.Any(r => r.Peer == p)).ToList())
        {
            _lastAnswered.Remove(gone);
        }

        foreach (var (peer, answered) in round)
        {
            if (answered || !_lastAnswered.ContainsKey(peer))
            {
                _lastAnswered[peer] = now;
            }
        }

        var condemned = new List<(SiloIncarnation, TimeSpan)>();
        if (round.Count < 2 || !round.Any(r => r.Answered))
        {
            return condemned;
        }

        foreach (var (peer, answered) in round)
        {
            var silent = time.GetElapsedTime(_lastAnswered[peer], now);
            if (!answered && silent >= deathDelay)
            {
                condemned.Add((peer, silent));
            }
        }

        return condemned;
    }
}
