using OrleansReplication.Bench.Measurement;

namespace OrleansReplication.Tests.Measurement;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Empty_PercentilesAreZero()
    {
        var histogram = new LatencyHistogram();

        Assert.Equal(0, histogram.Count);
        Assert.Equal(0, histogram.ValueAtPercentile(50));
        Assert.Equal(0, histogram.ValueAtPercentile(99.9));
    }

    [Fact]
    public void SmallValues_AreExact()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 100; v++)
        {
            histogram.Record(v);
        }

        Assert.Equal(50, histogram.ValueAtPercentile(50));
        Assert.Equal(99, histogram.ValueAtPercentile(99));
        Assert.Equal(100, histogram.ValueAtPercentile(100));
        Assert.Equal(1, histogram.Min);
        Assert.Equal(50.5, histogram.Mean);
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(123_457)]
    [InlineData(9_876_543_210)]
    public void LargeValues_WithinOneSixtyFourth(long value)
    {
        var histogram = new LatencyHistogram();
        histogram.Record(value);
        histogram.Record(value * 2);

        var p50 = histogram.ValueAtPercentile(50);

        Assert.InRange(p50, value, value + (value / 64) + 1);
        Assert.Equal(value * 2, histogram.ValueAtPercentile(100));
    }

    [Fact]
    public void UniformMillion_PercentilesWithinPrecision()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 1_000_000; v++)
        {
            histogram.Record(v);
        }

        foreach (var (percentile, expected) in new[] { (50.0, 500_000L), (99.0, 990_000L), (99.9, 999_000L) })
        {
            var actual = histogram.ValueAtPercentile(percentile);
            Assert.InRange(actual, expected, expected + (expected / 64) + 1);
        }
    }

    [Fact]
    public void Add_MergesCountsAndExtremes()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        a.Record(10);
        b.Record(5000);
        b.Record(20);

        a.Add(b);

        Assert.Equal(3, a.Count);
        Assert.Equal(10, a.Min);
        Assert.Equal(5000, a.Max);
        Assert.Equal(20, a.ValueAtPercentile(50));
    }

    [Fact]
    public void NegativeValue_CountsAsZero_AndBadPercentileIsRejected()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(-5);

        Assert.Equal(0, histogram.ValueAtPercentile(100));
        Assert.Throws<ArgumentOutOfRangeException>(() => histogram.ValueAtPercentile(101));
    }
}
