namespace OrleansReplication.Bench.Measurement;

/// <summary>
/// A small HDR-style latency histogram (HdrHistogram does not restore here): values below 128 are
/// counted exactly; above, each power of two is split into 64 buckets, so any quoted percentile is
/// within 1/64 (1.6 %) of the true value. Recording is one array increment, no allocation.
/// Not thread-safe: give each worker its own and <see cref="Add"/> them at the end.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;   // 64 buckets per power of two above 127
    private const int ExactValues = 2 * SubBuckets;      // 0..127 exactly
    private const int MaxShift = 40;                     // values up to 2^47 (39 hours in microseconds)

    private readonly long[] _counts = new long[ExactValues + (MaxShift * SubBuckets)];

    /// <summary>How many values were recorded.</summary>
    public long Count { get; private set; }

    /// <summary>The largest value recorded (exact), or 0.</summary>
    public long Max { get; private set; }

    /// <summary>The smallest value recorded (exact), or 0 when empty.</summary>
    public long Min { get; private set; } = long.MaxValue;

    /// <summary>The exact mean of the recorded values, or 0.</summary>
    public double Mean => Count == 0 ? 0 : (double)_sum / Count;

    private long _sum;

    /// <summary>Records one value (e.g. microseconds); negative values count as 0.</summary>
    public void Record(long value)
    {
        value = Math.Max(0, value);
        _counts[IndexOf(value)]++;
        Count++;
        _sum += value;
        Max = Math.Max(Max, value);
        Min = Math.Min(Min, value);
    }

    /// <summary>Adds every value of <paramref name="other"/> to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        _sum += other._sum;
        Max = Math.Max(Max, other.Max);
        Min = Math.Min(Min, other.Min);
    }

    /// <summary>
    /// The value at <paramref name="percentile"/> (0..100): the highest value equivalent to the
    /// bucket that holds that rank, capped at <see cref="Max"/>; 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        if (percentile is < 0 or > 100 || double.IsNaN(percentile))
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "A percentile is between 0 and 100.");
        }

        if (Count == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(HighestEquivalent(i), Max);
            }
        }

        return Max;
    }

    private static int IndexOf(long value)
    {
        if (value < ExactValues)
        {
            return (int)value;
        }

        // value >> shift lands in [64, 127]: the top 7 bits of the value.
        var shift = 63 - (int)long.LeadingZeroCount(value) - SubBucketBits;
        if (shift > MaxShift)
        {
            return ExactValues + (MaxShift * SubBuckets) - 1;
        }

        return ExactValues + ((shift - 1) * SubBuckets) + (int)((value >> shift) - SubBuckets);
    }

    private static long HighestEquivalent(int index)
    {
        if (index < ExactValues)
        {
            return index;
        }

        var shift = ((index - ExactValues) / SubBuckets) + 1;
        var top = ((index - ExactValues) % SubBuckets) + SubBuckets;
        return ((top + 1L) << shift) - 1;
    }
}
