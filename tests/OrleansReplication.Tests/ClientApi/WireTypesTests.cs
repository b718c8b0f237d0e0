using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace OrleansReplication.Tests.ClientApi;

/// <summary>What crosses a grain call keeps its type and data: items, results, conditions and the typed exceptions callers branch on.</summary>
public sealed class WireTypesTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    [Fact]
    public void Exceptions_RoundTrip_SameTypeAndData()
    {
        var moved = RoundTrip(new PartitionMovedException(7, "moved", TimeSpan.FromMilliseconds(30)));
        Assert.Equal(7, moved.Partition);
        Assert.Equal(TimeSpan.FromMilliseconds(30), moved.RetryAfter);
        Assert.Equal("moved", moved.Message);

        var unavailable = RoundTrip<ReplicaUnavailableException>(new ReplicaUnavailableException("loading", TimeSpan.FromSeconds(2)));
        Assert.Equal(TimeSpan.FromSeconds(2), unavailable.RetryAfter);

        var conflict = RoundTrip(new VersionConflictException([new VersionConflict(new ItemKey("a", "g"), Expect.Version(3), 5)], [new WriteResult("b", 9, false, true, true)]));
        var c = Assert.Single(conflict.Conflicts);
        Assert.Equal(new ItemKey("a", "g"), c.Key);
        Assert.Equal(Expect.Version(3), c.Expected);
        Assert.Equal(5, c.CurrentVersion);
        Assert.Equal(new WriteResult("b", 9, false, true, true), Assert.Single(conflict.Applied));
        Assert.Contains("Stale write to 'g/a'", conflict.Message, StringComparison.Ordinal);

        var partial = RoundTrip(new PartiallyAppliedException("half", [new WriteResult("x", 1, false, true, true)], TimeSpan.FromSeconds(1)));
        Assert.Single(partial.Applied);
        Assert.Equal("bad", RoundTrip(new InvalidRequestException("bad")).Message);
        Assert.Equal("reused", RoundTrip(new IdempotencyKeyReusedException("reused")).Message);
        Assert.Equal("big", RoundTrip(new ItemTooLargeException("big")).Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-2)]
    [InlineData(0)]
    [InlineData(42)]
    public void Expect_RoundTrips_EveryCondition(long wire)
    {
        Assert.True(Expect.TryFromWire(wire, out var expect));
        Assert.Equal(expect, RoundTrip(expect));
        Assert.Equal(expect, RoundTrip(new ItemWriteData("k", [1, 2], expect)).Expect);
    }

    [Fact]
    public void Items_RoundTrip()
    {
        var item = RoundTrip(new JsonItem(new ItemKey("a", "p"), 12, "{\"n\":1}"u8.ToArray()));
        Assert.Equal(new ItemKey("a", "p"), item.Key);
        Assert.Equal(12, item.Version);
        Assert.Equal("{\"n\":1}"u8.ToArray(), item.Json);
        var page = RoundTrip(new PartitionPage([item], More: true));
        Assert.True(page.More);
        Assert.Equal(new IdempotencyId("c", 9), RoundTrip(new IdempotencyId("c", 9)));
        Assert.Equal(SafetyLevel.Durable, RoundTrip(SafetyLevel.Durable));
    }

    private static T RoundTrip<T>(T value) => Serializer.Deserialize<T>(Serializer.SerializeToArray(value))!;
}
