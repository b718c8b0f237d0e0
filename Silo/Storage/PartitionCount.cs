using System.Globalization;

namespace OrleansReplication.Silo.Storage;

/// <summary>Reads the stored 'partition_count' setting of or_cluster.</summary>
internal static class PartitionCount
{
    /// <summary>Parses the stored value, failing loudly on a damaged row.</summary>
    /// <param name="stored">The or_cluster value; <see langword="null"/> when the row is missing.</param>
    /// <param name="database">The database, named in the error.</param>
    public static int Parse(string? stored, string database)
    {
        if (int.TryParse(stored, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0)
        {
            return count;
        }

        throw new InvalidOperationException(
            $"or_cluster.partition_count in database '{database}' is {(stored is null ? "missing right after it was set" : $"'{stored}'")}, not a positive integer. Restore the row to the cluster's original partition count (it never changes); do not guess it, or items land in the wrong partitions.");
    }
}
