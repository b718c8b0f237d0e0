namespace OrleansReplication;

/// <summary>
/// The condition a write puts on the item's current version (its ETag). A write whose
/// condition does not hold fails with <see cref="VersionConflictException"/> and changes nothing.
/// <c>default(Expect)</c> is <see cref="Any"/>.
/// </summary>
[Immutable]
public readonly record struct Expect
{
    // Stored shifted by one so that default(Expect) means "any" rather than "absent".
    private readonly long _valuePlusOne;

    private Expect(long value) => _valuePlusOne = value + 1;

    /// <summary>
    /// The wire encoding: -1 any version, -2 the item must exist (any version),
    /// 0 the item must not exist, n &gt; 0 the item must be at version n.
    /// </summary>
    public long Value => _valuePlusOne - 1;

    /// <summary>No condition: the write applies whatever the current version.</summary>
    public static Expect Any => default;

    /// <summary>The item must exist, at any version (HTTP <c>If-Match: *</c>).</summary>
    public static Expect Exists { get; } = new(-2);

    /// <summary>The item must not exist (HTTP <c>If-None-Match: *</c>).</summary>
    public static Expect Absent { get; } = new(0);

    /// <summary>The item must exist at exactly <paramref name="version"/> (HTTP <c>If-Match</c>).</summary>
    public static Expect Version(long version)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        return new(version);
    }

    /// <summary>Decodes the wire encoding; returns false for values below -2.</summary>
    public static bool TryFromWire(long value, out Expect expect)
    {
        expect = new(value);
        return value >= -2;
    }

    /// <summary>Whether the condition holds for an item at <paramref name="currentVersion"/> (0 when it does not exist).</summary>
    public bool IsSatisfiedBy(long currentVersion) => Value switch
    {
        -1 => true,
        -2 => currentVersion > 0,
        var v => v == currentVersion,
    };

    /// <inheritdoc />
    public override string ToString() => Value switch
    {
        -1 => "any version",
        -2 => "any existing version",
        0 => "absent",
        var v => $"version {v}",
    };
}

/// <summary>The serialized form of <see cref="Expect"/>: its wire encoding (<see cref="Expect.Value"/>).</summary>
[GenerateSerializer]
[Immutable]
[Alias("OrleansReplication.Expect")]
internal struct ExpectSurrogate
{
    /// <summary>The wire encoding.</summary>
    [Id(0)]
    public long Value;
}

/// <summary>Converts <see cref="Expect"/> to and from its serialized form.</summary>
[RegisterConverter]
internal sealed class ExpectSurrogateConverter : IConverter<Expect, ExpectSurrogate>
{
    public Expect ConvertFromSurrogate(in ExpectSurrogate surrogate) =>
        Expect.TryFromWire(surrogate.Value, out var expect) ? expect : throw new InvalidRequestException($"Expected version {surrogate.Value} is not a condition; use -1 (any), -2 (exists), 0 (absent) or a version.");

    public ExpectSurrogate ConvertToSurrogate(in Expect value) => new() { Value = value.Value };
}
