using OrleansReplication.Protocol;

namespace OrleansReplication.Silo.Api;

/// <summary>Turns write results into the replication records' wire form.</summary>
internal static class ErrorTranslator
{
    public static ItemResult ToProto(WriteResult result) => new()
    {
        Id = result.Key.Id,
        PartitionKey = result.Key.PartitionKey ?? string.Empty,
        Version = result.Version,
        Removed = result.Removed,
        Changed = result.Changed,
        Created = result.Created,
    };
}
