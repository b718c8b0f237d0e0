using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Tests.Placement;

/// <summary>
/// The primary acknowledges writes on the standby a failover would promote, and every silo
/// promotes by the same rule (<see cref="PlacementPolicy.PromotionCandidate"/>): the first standby
/// of the row that is not gone. A live standby the promoting silo sees as joining (its metadata not
/// yet read), or draining, is that standby still: skipping it promoted a copy, or loaded the store,
/// without the writes it alone acknowledged (nemesis seed 7102).
/// </summary>
public sealed class PromotionCandidateTests
{
    private static readonly PlacementOptions Rf2 = new();
    private static readonly SiloIncarnation A = new("a", 10);
    private static readonly SiloIncarnation B = new("b", 11);
    private static readonly SiloIncarnation C = new("c", 12);
    private static readonly SiloIncarnation D = new("d", 13);

    [Fact]
    public void PlanFailover_FirstStandbyNotYetDescribedToThisSilo_IsPromotedNotSkipped()
    {
        var view = View((A, SiloStatus.Dead), (B, SiloStatus.Joining), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [B, C])];

        var promoted = Assert.Single(PlacementPolicy.PlanFailover(map, view.Active, view));

        Assert.Equal((B, 3L), (promoted.Primary!.Value, promoted.Epoch));
        Assert.Equal([C], promoted.Standbys);
    }

    [Fact]
    public void PlanFailover_OnlyStandbyDraining_IsPromotedNotLoadedColdElsewhere()
    {
        var view = View((A, SiloStatus.Dead), (B, SiloStatus.ShuttingDown), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [B])];

        var promoted = Assert.Single(PlacementPolicy.PlanFailover(map, view.Active, view));

        Assert.Equal(B, promoted.Primary!.Value);
    }

    [Fact]
    public void PlanFailover_StandbyNewerThanThisView_IsPromoted()
    {
        // D started after this silo last read the table: absent from the view, but not gone.
        var view = View((A, SiloStatus.Dead), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [D])];

        var promoted = Assert.Single(PlacementPolicy.PlanFailover(map, view.Active, view));

        Assert.Equal(D, promoted.Primary!.Value);
    }

    [Fact]
    public void PlanFailover_EveryStandbyGone_ColdToTheLeastLoadedLiveSilo()
    {
        var view = View((A, SiloStatus.Dead), (B, SiloStatus.Dead), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [B])];

        var promoted = Assert.Single(PlacementPolicy.PlanFailover(map, view.Active, view));

        Assert.Equal(C, promoted.Primary!.Value);
        Assert.Empty(promoted.Standbys);
    }

    [Fact]
    public void PromotionCandidate_IsWhatPlanFailoverPromotes_InEveryView()
    {
        PartitionAssignment row = new(0, Version: 4, Epoch: 2, A, [B, C]);
        SiloStatus[] statuses = [SiloStatus.Joining, SiloStatus.Active, SiloStatus.ShuttingDown, SiloStatus.Dead];
        foreach (var b in statuses)
        {
            foreach (var c in statuses)
            {
                var view = View((A, SiloStatus.Dead), (B, b), (C, c), (D, SiloStatus.Active));

                var promoted = Assert.Single(PlacementPolicy.PlanFailover([row], view.Active, view)).Primary;

                var candidate = PlacementPolicy.PromotionCandidate(row, view.IsGone);
                Assert.True(candidate is null ? promoted == D : promoted == candidate, $"b {b}, c {c}: promoted {promoted}, candidate {candidate}");
            }
        }
    }

    [Fact]
    public void PlanStandbys_StandbyNotYetDescribedToThisSilo_StaysInItsRow()
    {
        var view = View((A, SiloStatus.Active), (B, SiloStatus.Joining), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [B])];

        Assert.Empty(PlacementPolicy.PlanStandbys(map, view.Active, Rf2, maxMoves: 0, view));
    }

    [Fact]
    public void PlanStandbys_DrainingStandby_IsReplacedBesideItAndRetiredOnceTheNewOneIsInSync()
    {
        var view = View((A, SiloStatus.Active), (B, SiloStatus.ShuttingDown), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [B])];

        var moved = Assert.Single(PlacementPolicy.PlanStandbys(map, view.Active, Rf2, maxMoves: 0, view));
        Assert.Equal([B, C], moved.Standbys);
        Assert.Equal(B, PlacementPolicy.PromotionCandidate(moved, view.IsGone)); // it holds the writes until C does
        Assert.Empty(PlacementPolicy.PlanStandbys([moved], view.Active, Rf2, maxMoves: 0, view)); // not replaced twice

        Assert.Empty(PlacementPolicy.PlanStandbyRetirements([moved], A, (_, _) => false, Rf2));
        var retired = Assert.Single(PlacementPolicy.PlanStandbyRetirements([moved], A, (_, s) => s == C, Rf2));
        Assert.Equal([C], retired.Standbys);
    }

    [Fact]
    public void PlanStandbys_DeadStandby_IsDroppedAndReplaced()
    {
        var view = View((A, SiloStatus.Active), (B, SiloStatus.Dead), (C, SiloStatus.Active));
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, A, [B])];

        var repaired = Assert.Single(PlacementPolicy.PlanStandbys(map, view.Active, Rf2, maxMoves: 0, view));

        Assert.Equal([C], repaired.Standbys);
    }

    [Fact]
    public void IsGone_DeadOrOlderThanTheView_ButNotJoiningDrainingOrNewer()
    {
        var view = View((B, SiloStatus.Dead), (C, SiloStatus.Joining), (D, SiloStatus.ShuttingDown));

        Assert.True(view.IsGone(B));
        Assert.True(view.IsGone(A)); // absent, older than incarnations the view holds: removed from the table
        Assert.False(view.IsGone(C));
        Assert.False(view.IsGone(D));
        Assert.False(view.IsGone(new SiloIncarnation("e", 14))); // started after this view was read
        Assert.False(MembershipSnapshot.Empty.IsGone(A)); // nothing known yet
    }

    private static MembershipSnapshot View(params (SiloIncarnation Silo, SiloStatus Status)[] silos) =>
        new(1, [.. silos.Select(s => new SiloRecord(s.Silo, s.Status, "", "", "", "", s.Silo.SiloId, "", 0, 8L << 30, 0))]);
}
