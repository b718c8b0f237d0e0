using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Tests.Placement;

public sealed class PlacementPolicyTests
{
    private static readonly PlacementOptions Rf2 = new();

    [Fact]
    public void Initial_ThreeSilos_SpreadsPrimariesAndStandbysEvenlyOnOtherSilos()
    {
        var silos = Silos(("a", "h1", "z1"), ("b", "h2", "z2"), ("c", "h3", "z3"));

        var map = PlacementPolicy.Initial(64, silos, Rf2);

        Assert.Equal(64, map.Count);
        Assert.All(map, a =>
        {
            Assert.Equal(1, a.Epoch);
            Assert.Equal(1, a.Version);
            var standby = Assert.Single(a.Standbys);
            Assert.NotEqual(a.Primary, standby);
        });
        AssertSpread(map.GroupBy(a => a.Primary!.Value).Select(g => g.Count()), 64, 3);
        AssertSpread(map.SelectMany(a => a.Standbys).GroupBy(s => s).Select(g => g.Count()), 64, 3);
    }

    [Fact]
    public void Initial_TwoSilosPerHost_NeverPutsBothReplicasOnOneHost()
    {
        var silos = Silos(("a", "h1", ""), ("b", "h1", ""), ("c", "h2", ""), ("d", "h2", ""));
        var hostOf = silos.ToDictionary(s => s.Address, s => s.Host);

        var map = PlacementPolicy.Initial(64, silos, Rf2);

        Assert.All(map, a => Assert.NotEqual(hostOf[a.Primary!.Value], hostOf[a.Standbys[0]]));
    }

    [Fact]
    public void Initial_DistinctHostsTwoZones_PutsStandbyInTheOtherZone()
    {
        var silos = Silos(("a", "h1", "z1"), ("b", "h2", "z1"), ("c", "h3", "z2"), ("d", "h4", "z2"));
        var zoneOf = silos.ToDictionary(s => s.Address, s => s.Zone);

        var map = PlacementPolicy.Initial(32, silos, Rf2);

        Assert.All(map, a => Assert.NotEqual(zoneOf[a.Primary!.Value], zoneOf[a.Standbys[0]]));
    }

    [Fact]
    public void Initial_FewerSilosThanReplicationFactor_ShortGroupsWithoutDuplicates()
    {
        var map = PlacementPolicy.Initial(8, Silos(("a", "h1", ""), ("b", "h2", "")), new PlacementOptions { ReplicationFactor = 3 });

        Assert.All(map, a =>
        {
            Assert.Single(a.Standbys);
            Assert.NotEqual(a.Primary, a.Standbys[0]);
        });
    }

    [Fact]
    public void Initial_SameInputInAnyOrder_SameMap()
    {
        var silos = Silos(("a", "h1", "z1"), ("b", "h2", "z2"), ("c", "h3", "z1"));

        var first = PlacementPolicy.Initial(64, silos, Rf2);
        var second = PlacementPolicy.Initial(64, silos.AsEnumerable().Reverse().ToList(), Rf2);

        Assert.Equal(first.Select(Describe), second.Select(Describe));
    }

    [Fact]
    public void PlanStandbys_SecondSiloJoinsLoneSilo_EveryPartitionGetsAStandbyThere()
    {
        var lone = Silos(("a", "h1", ""));
        var map = PlacementPolicy.Initial(16, lone, Rf2);
        Assert.All(map, a => Assert.Empty(a.Standbys));
        var both = Silos(("a", "h1", ""), ("b", "h2", ""));

        var changes = PlacementPolicy.PlanStandbys(map, both, Rf2, maxMoves: 0);

        Assert.Equal(16, changes.Count);
        Assert.All(changes, a =>
        {
            Assert.Equal(both[1].Address, Assert.Single(a.Standbys));
            Assert.Equal(2, a.Version);
            Assert.Equal(1, a.Epoch);
        });
    }

    [Fact]
    public void PlanStandbys_StandbySiloDied_ReplacedWithoutTouchingPrimaryOrEpoch()
    {
        var silos = Silos(("a", "h1", ""), ("b", "h2", ""), ("c", "h3", ""));
        var map = PlacementPolicy.Initial(12, silos, Rf2);
        var dead = silos[2].Address;
        var live = silos.Take(2).ToList();

        var changes = PlacementPolicy.PlanStandbys(map, live, Rf2, maxMoves: 0);

        var affected = map.Where(a => a.Standbys.Contains(dead)).Select(a => a.PartitionId).ToHashSet();
        Assert.Equal(affected, changes.Select(a => a.PartitionId).ToHashSet());
        Assert.All(changes, a =>
        {
            var before = map[a.PartitionId];
            Assert.Equal(before.Primary, a.Primary);
            Assert.Equal(before.Epoch, a.Epoch);
            Assert.DoesNotContain(dead, a.Standbys);
            Assert.NotEqual(a.Primary, Assert.Single(a.Standbys));
        });
    }

    [Fact]
    public void PlanStandbys_ThirdSiloJoins_TakesItsShareGraduallyByBoundedMovesBesideTheOldStandbys()
    {
        var two = Silos(("a", "h1", ""), ("b", "h2", ""));
        var map = PlacementPolicy.Initial(64, two, Rf2).ToDictionary(a => a.PartitionId);
        var three = Silos(("a", "h1", ""), ("b", "h2", ""), ("c", "h3", ""));
        var newcomer = three[2].Address;

        // A move adds the newcomer after the standby it replaces, which stays first in line for promotion.
        var first = PlacementPolicy.PlanStandbys([.. map.Values], three, Rf2, maxMoves: 5);
        Assert.Equal(5, first.Count);
        Assert.All(first, a => Assert.Equal([map[a.PartitionId].Standbys[0], newcomer], a.Standbys));

        for (var round = 0; round < 40; round++)
        {
            var changes = round == 0 ? first : PlacementPolicy.PlanStandbys([.. map.Values], three, Rf2, maxMoves: 5);

            // The primaries retire the replaced standbys once the newcomer caught up (here at once).
            var retired = three.SelectMany(s => PlacementPolicy.PlanStandbyRetirements([.. map.Values], s.Address, (_, _) => true, Rf2)).ToList();
            if (changes.Count == 0 && retired.Count == 0)
            {
                break;
            }

            foreach (var change in retired.Concat(changes.Where(c => retired.All(r => r.PartitionId != c.PartitionId))))
            {
                Assert.Equal(map[change.PartitionId].Version + 1, change.Version);
                map[change.PartitionId] = change;
            }
        }

        Assert.All(map.Values, a => Assert.NotEqual(a.Primary, Assert.Single(a.Standbys)));
        AssertSpread(map.Values.SelectMany(a => a.Standbys).GroupBy(s => s).Select(g => g.Count()), 64, 3, slack: 2);
        Assert.Empty(PlacementPolicy.PlanStandbys([.. map.Values], three, Rf2, maxMoves: 5));
    }

    [Fact]
    public void PlanStandbyRetirements_KeepsTheReplacedStandbyUntilItsSuccessorIsInSync()
    {
        var three = Silos(("a", "h1", ""), ("b", "h2", ""), ("c", "h3", ""));
        var (a, b, c) = (three[0].Address, three[1].Address, three[2].Address);
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, a, [b, c])];

        Assert.Empty(PlacementPolicy.PlanStandbyRetirements(map, a, (_, s) => s == b, Rf2));
        Assert.Empty(PlacementPolicy.PlanStandbyRetirements(map, b, (_, _) => true, Rf2)); // only the primary knows

        var retired = Assert.Single(PlacementPolicy.PlanStandbyRetirements(map, a, (_, _) => true, Rf2));
        Assert.Equal([c], retired.Standbys);
        Assert.Equal((5L, 2L, a), (retired.Version, retired.Epoch, retired.Primary!.Value));
    }

    [Fact]
    public void PlanFailover_DuringAMove_PromotesTheOldStandbyNotTheJoiner()
    {
        var survivors = Silos(("b", "h2", ""), ("c", "h3", ""));
        var (b, c) = (survivors[0].Address, survivors[1].Address);
        var dead = Silos(("a", "h1", ""))[0].Address;
        PartitionAssignment[] map = [new(0, Version: 4, Epoch: 2, dead, [b, c])];

        var promoted = Assert.Single(PlacementPolicy.PlanFailover(map, survivors));

        Assert.Equal((b, 3L), (promoted.Primary!.Value, promoted.Epoch));
        Assert.Equal([c], promoted.Standbys);
    }

    [Fact]
    public void PlanPrimaryHandoffs_OneSiloLeadsAll_MovesPrimariesToInSyncStandbysUntilEven()
    {
        var lone = Silos(("a", "h1", ""));
        var three = Silos(("a", "h1", ""), ("b", "h2", ""), ("c", "h3", ""));
        var map = PlacementPolicy.Initial(64, lone, Rf2).ToDictionary(a => a.PartitionId);
        foreach (var change in PlacementPolicy.PlanStandbys([.. map.Values], three, Rf2, maxMoves: 0))
        {
            map[change.PartitionId] = change;
        }

        var handoffs = PlacementPolicy.PlanPrimaryHandoffs([.. map.Values], three, (_, _) => true, maxMoves: 100);

        foreach (var h in handoffs)
        {
            var before = map[h.PartitionId];
            Assert.Equal(before.Epoch + 1, h.Epoch);
            Assert.Contains(h.Primary!.Value, before.Standbys);
            Assert.Contains(before.Primary!.Value, h.Standbys);
            map[h.PartitionId] = h;
        }

        Assert.All(map.Values.GroupBy(a => a.Primary!.Value), g => Assert.True(g.Count() <= 22, $"{g.Key} leads {g.Count()}"));
    }

    [Fact]
    public void PlanPrimaryHandoffs_StandbyNotInSync_IsNeverPromoted()
    {
        var lone = Silos(("a", "h1", ""));
        var both = Silos(("a", "h1", ""), ("b", "h2", ""));
        var map = PlacementPolicy.PlanStandbys(PlacementPolicy.Initial(8, lone, Rf2), both, Rf2, maxMoves: 0);

        var handoffs = PlacementPolicy.PlanPrimaryHandoffs(map, both, (partition, _) => partition % 2 == 0, maxMoves: 100);

        Assert.NotEmpty(handoffs);
        Assert.All(handoffs, h => Assert.Equal(0, h.PartitionId % 2));
    }

    [Fact]
    public void PlanFailover_PrimaryDeadStandbyLive_PromotesStandbyAtNextEpoch()
    {
        var silos = Silos(("a", "h1", ""), ("b", "h2", ""), ("c", "h3", ""));
        var map = PlacementPolicy.Initial(12, silos, Rf2);
        var dead = silos[0].Address;

        var failovers = PlacementPolicy.PlanFailover(map, silos.Skip(1).ToList());

        var led = map.Where(a => a.Primary == dead).ToList();
        Assert.Equal(led.Select(a => a.PartitionId), failovers.Select(f => f.PartitionId));
        Assert.All(failovers, f =>
        {
            var before = map[f.PartitionId];
            Assert.Equal(before.Standbys[0], f.Primary);
            Assert.Equal(before.Epoch + 1, f.Epoch);
            Assert.Equal(before.Version + 1, f.Version);
            Assert.DoesNotContain(f.Primary!.Value, f.Standbys);
        });
    }

    [Fact]
    public void PlanFailover_NoLiveStandby_ColdToLeastLoadedLiveSilo()
    {
        var lone = Silos(("a", "h1", ""));
        var map = PlacementPolicy.Initial(4, lone, Rf2);
        var restarted = new List<SiloRecord> { lone[0] with { Address = new SiloIncarnation("a", 2) } };

        var failovers = PlacementPolicy.PlanFailover(map, restarted);

        Assert.Equal(4, failovers.Count);
        Assert.All(failovers, f =>
        {
            Assert.Equal(restarted[0].Address, f.Primary);
            Assert.Equal(2, f.Epoch);
            Assert.Empty(f.Standbys);
        });
    }

    [Fact]
    public void PlanFailover_PrimariesAlive_NoChange()
    {
        var silos = Silos(("a", "h1", ""), ("b", "h2", ""));

        Assert.Empty(PlacementPolicy.PlanFailover(PlacementPolicy.Initial(8, silos, Rf2), silos));
    }

    private static void AssertSpread(IEnumerable<int> counts, int total, int silos, int slack = 1)
    {
        var list = counts.ToList();
        Assert.Equal(silos, list.Count);
        var share = (double)total / silos;
        Assert.All(list, c => Assert.InRange(c, Math.Floor(share) - slack, Math.Ceiling(share) + slack));
    }

    private static string Describe(PartitionAssignment a) => $"{a.PartitionId}:{a.Primary}:{string.Join(",", a.Standbys)}";

    private static List<SiloRecord> Silos(params (string Id, string Host, string Zone)[] silos) =>
        [.. silos.Select(s => new SiloRecord(new SiloIncarnation(s.Id, 1), SiloStatus.Active, "", "", "", s.Zone, s.Host, "", 0, 8L << 30, 0))];
}
