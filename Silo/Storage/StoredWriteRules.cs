namespace OrleansReplication.Silo.Storage;

/// <summary>Argument checks shared by the providers, run before any database work.</summary>
internal static class StoredWriteRules
{
    /// <summary>Throws when a commit's arguments could never be applied as the contract describes.</summary>
    public static void ValidateCommit(int partitionId, IReadOnlyList<StoredWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            if (write.Component is null || write.PartitionKey is null || write.Id is null)
            {
                throw new ArgumentException($"Commit to partition {partitionId}: write #{i} has a null component, partition key or id (a default StoredWrite?). Use \"\" for an item without a partition key.", nameof(writes));
            }

            if (write.ExpectedVersion < 0)
            {
                throw new ArgumentException($"Commit to partition {partitionId}: write #{i} ('{write.Component}/{write.Id}') expects version {write.ExpectedVersion}; versions are never negative (0 means 'must not exist').", nameof(writes));
            }

            if (write.Value is null && write.ExpectedVersion == 0)
            {
                // A delete must name the version it removes; "delete what does not exist" is a no-op the caller drops.
                throw new ArgumentException($"Commit to partition {partitionId}: write #{i} deletes '{write.Component}/{write.Id}' at expected version 0. A delete needs the stored version; leave items created and removed in one batch out of the commit.", nameof(writes));
            }
        }
    }
}
