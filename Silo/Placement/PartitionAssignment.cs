using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Placement;

/// <summary>One partition's row of the partition map: who leads it in which epoch, and its buddy group.</summary>
/// <param name="PartitionId">The partition.</param>
/// <param name="Version">The row's version: +1 on every change; the compare-and-swap key.</param>
/// <param name="Epoch">Raised by every change of primary (never lowered); store writes and replication records carry it.</param>
/// <param name="Primary">The primary, or <see langword="null"/> when no live silo holds the partition.</param>
/// <param name="Standbys">The standbys (the buddy group), in preference order for promotion.</param>
internal sealed record PartitionAssignment(int PartitionId, long Version, long Epoch, SiloIncarnation? Primary, IReadOnlyList<SiloIncarnation> Standbys);
