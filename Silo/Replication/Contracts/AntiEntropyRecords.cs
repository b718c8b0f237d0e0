using Orleans;
using Orleans.Concurrency;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Primary to standby, in the stream right after the change at <see cref="Sequence"/>: the
/// primary's root hash there. The standby, having applied exactly that far, compares its own and
/// answers its clump hashes only when the roots differ.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.DigestCheck")]
internal sealed class DigestCheck
{
    /// <summary>Numbers the primary's checks of this partition, so an answer finds its question.</summary>
    [Id(0)]
    public long Round { get; init; }

    [Id(1)]
    public long Sequence { get; init; }

    [Id(2)]
    public int Clumps { get; init; }

    [Id(3)]
    public ulong Root { get; init; }
}

/// <summary>
/// Primary to standby, in the stream right after the change at <see cref="Sequence"/>: every item
/// of the clumps that differed, as the primary holds them there. The standby makes those clumps
/// exactly this (removing what it has beyond them) and checks them against <see cref="Expected"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.ClumpRepair")]
internal sealed class ClumpRepair
{
    [Id(0)]
    public long Round { get; init; }

    [Id(1)]
    public long Sequence { get; init; }

    [Id(2)]
    public int Clumps { get; init; }

    /// <summary>The clumps repaired.</summary>
    [Id(3)]
    public int[] Repaired { get; init; } = [];

    /// <summary>The primary's hash of each clump of <see cref="Repaired"/>, in that order.</summary>
    [Id(4)]
    public ulong[] Expected { get; init; } = [];

    /// <summary>The primary's items of those clumps (the version as the sequence).</summary>
    [Id(5)]
    public List<ReplicatedChange> Items { get; init; } = [];
}

/// <summary>Standby to primary, in an ack: the outcome of a <see cref="DigestCheck"/> or a <see cref="ClumpRepair"/>.</summary>
[GenerateSerializer, Immutable, Alias("OrleansReplication.DigestAnswer")]
internal sealed class DigestAnswer
{
    [Id(0)]
    public long Round { get; init; }

    [Id(1)]
    public long Sequence { get; init; }

    /// <summary>Whether this answers a repair (else a check).</summary>
    [Id(2)]
    public bool Repair { get; init; }

    /// <summary>A check: the roots matched. A repair: every repaired clump now matches the primary's.</summary>
    [Id(3)]
    public bool Matched { get; init; }

    /// <summary>A check whose roots differed: the standby's clump hashes at <see cref="Sequence"/>.</summary>
    [Id(4)]
    public ulong[]? Clumps { get; init; }

    /// <summary>A repair: the items the standby changed, added or removed.</summary>
    [Id(5)]
    public int ItemsChanged { get; init; }

    /// <summary>A check the standby could not make: it was not at the check's sequence (<see cref="Sequence"/> is where it was).</summary>
    [Id(6)]
    public bool Skipped { get; init; }
}
