using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime;
using OrleansReplication.Grains.Placement;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Tests.ReplicatedState;

/// <summary>
/// A grain class that takes <c>[ReplicatedState]</c> is placed on its partition's primary without an
/// attribute of its own; a malformed one stops the silo at start (its grain manifest) with a message
/// that says what to change. (The classes here are shapes only, not grains the test cluster loads.)
/// </summary>
public sealed class ReplicatedGrainPlacementTests
{
    [Fact]
    public void ClassWithFacet_PlacedOnItsPartitionsPrimary()
    {
        var properties = Populate(typeof(GoodShape));
        Assert.Equal(nameof(PartitionPlacement), properties[WellKnownGrainTypeProperties.PlacementStrategy]);
    }

    [Fact]
    public void ClassWithoutFacet_Untouched()
    {
        Assert.Empty(Populate(typeof(PlainShape)));
    }

    [Theory]
    [InlineData(typeof(SameNameTwice), "two [ReplicatedState(\"cart\")] parameters")]
    [InlineData(typeof(NotAReplicatedState), "it must be an IReplicatedState<TState>")]
    [InlineData(typeof(BadStateName), "state name")]
    [InlineData(typeof(EmptyStorageName), "storageName is empty")]
    public void MalformedFacet_StopsTheSiloWithWhatToChange(Type shape, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Populate(shape));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(shape.FullName!, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FacetWithAnotherPlacement_StopsTheSilo_SayingToRemoveIt()
    {
        var properties = new Dictionary<string, string> { [WellKnownGrainTypeProperties.PlacementStrategy] = nameof(RandomPlacement) };
        var error = Assert.Throws<InvalidOperationException>(() => new ReplicatedGrainPlacement().Populate(typeof(GoodShape), GrainType.Create("good"), properties));
        Assert.Contains("remove the placement attribute", error.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Populate(Type shape)
    {
        var properties = new Dictionary<string, string>();
        new ReplicatedGrainPlacement().Populate(shape, GrainType.Create("shape"), properties);
        return properties;
    }

    private sealed class GoodShape([ReplicatedState("cart")] IReplicatedState<int> cart, [ReplicatedState("wishes")] IReplicatedState<string> wishes)
    {
        public object State => (cart, wishes);
    }

    private sealed class PlainShape(string name)
    {
        public string Name => name;
    }

    private sealed class SameNameTwice([ReplicatedState("cart")] IReplicatedState<int> a, [ReplicatedState("cart")] IReplicatedState<int> b)
    {
        public object State => (a, b);
    }

    private sealed class NotAReplicatedState([ReplicatedState("cart")] int cart)
    {
        public int State => cart;
    }

    private sealed class BadStateName([ReplicatedState("my cart")] IReplicatedState<int> cart)
    {
        public object State => cart;
    }

    private sealed class EmptyStorageName([ReplicatedState("cart", "")] IReplicatedState<int> cart)
    {
        public object State => cart;
    }
}
