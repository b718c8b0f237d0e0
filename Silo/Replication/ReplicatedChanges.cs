using System.Runtime.InteropServices;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Conversions between the partition's in-memory changes and the wire records. JSON arrays are
/// shared, never copied: item values are immutable once written, on every replica.
/// </summary>
internal static class ReplicatedChanges
{
    /// <summary>The wire record of a logged change.</summary>
    public static ReplicatedChange ToRecord(in LogEntry entry) => new()
    {
        Component = entry.Address.Component,
        PartitionKey = entry.Address.PartitionKey,
        Id = entry.Address.Id,
        Sequence = entry.Sequence,
        Value = entry.Value ?? [],
        Remove = entry.Value is null,
        Request = entry.Request?.ToWire(),
    };

    /// <summary>The wire record of an item of a snapshot: its version as the sequence.</summary>
    public static ReplicatedChange ToRecord(in ItemAddress address, ItemEntry entry) => new()
    {
        Component = address.Component,
        PartitionKey = address.PartitionKey,
        Id = address.Id,
        Sequence = entry.Version,
        Value = entry.Json,
    };

    /// <summary>A batch of logged changes for <paramref name="partition"/> at <paramref name="epoch"/>.</summary>
    public static ReplicationBatch ToBatch(int partition, long epoch, List<LogEntry> entries)
    {
        var batch = new ReplicationBatch { Partition = partition, Epoch = epoch, Changes = new List<ReplicatedChange>(entries.Count) };
        foreach (var entry in CollectionsMarshal.AsSpan(entries))
        {
            batch.Changes.Add(ToRecord(entry));
        }

        return batch;
    }

    /// <summary>The item address of a wire record.</summary>
    public static ItemAddress Address(ReplicatedChange change) => new(change.Component, change.PartitionKey, change.Id);

    /// <summary>The JSON of a wire record: its own array (records are immutable, so it is shared, not copied).</summary>
    public static byte[] Json(ReplicatedChange change) => change.Value;

    /// <summary>Approximate bytes a batch keeps alive in a queue (the JSON dominates).</summary>
    public static int ApproximateBytes(ReplicationBatch batch)
    {
        var bytes = 64;
        foreach (var change in batch.Changes)
        {
            bytes += change.Value.Length + ((change.Component.Length + change.PartitionKey.Length + change.Id.Length) * 2) + 64;
            if (change.Request is { } request)
            {
                bytes += ApproximateBytes(request);
            }
        }

        if (batch.Repair is { } repair)
        {
            bytes += repair.Expected.Length * 12;
            foreach (var item in repair.Items)
            {
                bytes += item.Value.Length + ((item.Component.Length + item.PartitionKey.Length + item.Id.Length) * 2) + 64;
            }
        }

        return bytes;
    }

    /// <summary>Approximate bytes a snapshot chunk keeps alive in a queue.</summary>
    public static int ApproximateBytes(SnapshotChunk chunk)
    {
        var bytes = 64;
        foreach (var item in chunk.Items)
        {
            bytes += item.Value.Length + ((item.Component.Length + item.PartitionKey.Length + item.Id.Length) * 2) + 64;
        }

        foreach (var request in chunk.Requests)
        {
            bytes += ApproximateBytes(request);
        }

        return bytes;
    }

    // A rough figure, without walking the message: the results dominate.
    private static int ApproximateBytes(ReplicatedRequest request) => 96 + (request.Results.Length * 96);
}
