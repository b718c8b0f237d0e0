using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Tests.Membership;

public sealed class PeerReachabilityTests
{
    private static readonly TimeProvider Time = TimeProvider.System;
    private static readonly SiloIncarnation A = new("silo-a", 1);
    private static readonly SiloIncarnation B = new("silo-b", 1);
    private static readonly SiloIncarnation C = new("silo-c", 1);

    [Fact]
    public void PeerSilentForTheDelayWhileAnotherAnswers_IsCondemned_NotBefore()
    {
        var reachability = new PeerReachability(TimeSpan.FromSeconds(10));
        Assert.Empty(reachability.Record([(A, true), (B, true)], At(0), Time));
        for (var second = 1; second < 10; second++)
        {
            Assert.Empty(reachability.Record([(A, true), (B, false)], At(second), Time));
        }

        var (peer, silent) = Assert.Single(reachability.Record([(A, true), (B, false)], At(10), Time));
        Assert.Equal(B, peer);
        Assert.Equal(TimeSpan.FromSeconds(10), silent);
    }

    [Fact]
    public void OneAnswerRestartsTheCount()
    {
        var reachability = new PeerReachability(TimeSpan.FromSeconds(10));
        reachability.Record([(A, true), (B, true)], At(0), Time);
        reachability.Record([(A, true), (B, false)], At(8), Time);
        reachability.Record([(A, true), (B, true)], At(9), Time);

        Assert.Empty(reachability.Record([(A, true), (B, false)], At(18), Time));
        Assert.Single(reachability.Record([(A, true), (B, false)], At(19), Time));
    }

    [Fact]
    public void NoPeerAnswers_ThisSiloIsTheOneCutOff_NobodyIsCondemned()
    {
        var reachability = new PeerReachability(TimeSpan.FromSeconds(10));
        reachability.Record([(A, true), (B, true)], At(0), Time);

        Assert.Empty(reachability.Record([(A, false), (B, false)], At(30), Time));
    }

    [Fact]
    public void OnlyOnePeer_WhichSideIsCutCannotBeTold_NobodyIsCondemned()
    {
        var reachability = new PeerReachability(TimeSpan.FromSeconds(10));
        reachability.Record([(A, true)], At(0), Time);

        Assert.Empty(reachability.Record([(A, false)], At(30), Time));
    }

    [Fact]
    public void NewPeerCountsFromWhenItWasFirstSeen_AGoneOneIsForgotten()
    {
        var reachability = new PeerReachability(TimeSpan.FromSeconds(10));
        reachability.Record([(A, true), (B, true)], At(0), Time);

        // C joins at 20 s and has not answered yet: it has 10 s like anyone else.
        Assert.Empty(reachability.Record([(A, true), (B, true), (C, false)], At(20), Time));
        Assert.Single(reachability.Record([(A, true), (B, true), (C, false)], At(30), Time));

        // B left and comes back as a listed peer: it starts over too.
        reachability.Record([(A, true), (C, true)], At(31), Time);
        Assert.Empty(reachability.Record([(A, true), (B, false), (C, true)], At(32), Time));
    }

    private static long At(double seconds) => (long)(seconds * Time.TimestampFrequency);
}
