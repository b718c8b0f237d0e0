namespace OrleansReplication.Bench.Measurement.History;

/// <summary>An acknowledged write that a later read did not see.</summary>
/// <param name="Write">The acknowledged write.</param>
/// <param name="Read">The read, invoked after the write completed, that saw an older version.</param>
public sealed record LostWrite(HistoryOperation Write, HistoryOperation Read);

/// <summary>A write whose value was observed at more than one version: it took effect more than once.</summary>
/// <param name="Key">The key.</param>
/// <param name="Value">The write's unique value.</param>
/// <param name="Versions">The distinct versions it was seen at (acknowledgement and reads).</param>
public sealed record DuplicatedEffect(string Key, string Value, IReadOnlyList<long> Versions);

/// <summary>What <see cref="HistoryChecker.Check"/> found.</summary>
/// <param name="Operations">How many operations the history holds.</param>
/// <param name="Keys">How many keys it touched.</param>
/// <param name="LostWrites">Acknowledged writes later reads did not see (must be none).</param>
/// <param name="DuplicatedEffects">Writes that took effect more than once (must be none).</param>
/// <param name="NonLinearizableKeys">Keys whose history no legal order explains (must be none).</param>
/// <param name="UnknownKeys">Keys whose search ran out of budget.</param>
public sealed record HistoryReport(
    int Operations,
    int Keys,
    IReadOnlyList<LostWrite> LostWrites,
    IReadOnlyList<DuplicatedEffect> DuplicatedEffects,
    IReadOnlyList<string> NonLinearizableKeys,
    IReadOnlyList<string> UnknownKeys)
{
    /// <summary>Whether the history shows no lost write, no duplicate and no non-linearizable key.</summary>
    public bool IsValid => LostWrites.Count == 0 && DuplicatedEffects.Count == 0 && NonLinearizableKeys.Count == 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Operations} operations on {Keys} keys: {LostWrites.Count} lost acknowledged writes, {DuplicatedEffects.Count} duplicated effects, " +
        $"{NonLinearizableKeys.Count} non-linearizable keys{(NonLinearizableKeys.Count > 0 ? " (" + string.Join(", ", NonLinearizableKeys.Take(10)) + ")" : string.Empty)}, {UnknownKeys.Count} undecided.";
}

/// <summary>
/// Checks a client-recorded history the way Jepsen does: every key is a versioned register whose
/// writes carry unique values. Reports acknowledged writes a later read missed, writes observed at
/// two versions, and, per key, whether the reads and writes are linearizable.
/// </summary>
public static class HistoryChecker
{
    /// <summary>Checks <paramref name="history"/>; every key starts absent unless <paramref name="initial"/> says otherwise.</summary>
    public static HistoryReport Check(IReadOnlyList<HistoryOperation> history, IReadOnlyDictionary<string, RegisterState>? initial = null, long maxStepsPerKey = 10_000_000)
    {
        ArgumentNullException.ThrowIfNull(history);
        var lost = new List<LostWrite>();
        var duplicates = new List<DuplicatedEffect>();
        var nonLinearizable = new List<string>();
        var unknown = new List<string>();
        var byKey = history.GroupBy(o => o.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        foreach (var key in byKey)
        {
            var ops = key.ToList();
            FindLostWrites(ops, lost);
            FindDuplicates(key.Key, ops, duplicates);
            var start = initial is not null && initial.TryGetValue(key.Key, out var s) ? s : RegisterState.Absent;
            switch (LinearizabilityChecker.CheckKey(ops, start, maxStepsPerKey))
            {
                case Linearizability.NotLinearizable:
                    nonLinearizable.Add(key.Key);
                    break;
                case Linearizability.Unknown:
                    unknown.Add(key.Key);
                    break;
            }
        }

        return new HistoryReport(history.Count, byKey.Count, lost, duplicates, nonLinearizable, unknown);
    }

    // A read that began after a write was acknowledged must see that write or a later one.
    private static void FindLostWrites(List<HistoryOperation> ops, List<LostWrite> lost)
    {
        var reads = ops.Where(o => o.Kind == OperationKind.Read && o.Outcome == OperationOutcome.Ok).ToList();
        foreach (var write in ops.Where(o => o.Kind == OperationKind.Write && o.Outcome == OperationOutcome.Ok))
        {
            var missed = reads.FirstOrDefault(r => r.Invoked > write.Completed
                && (r.Version < write.Version || (r.Version == write.Version && !string.Equals(r.Value, write.Value, StringComparison.Ordinal))));
            if (missed is not null)
            {
                lost.Add(new LostWrite(write, missed));
            }
        }
    }

    // Write values are unique: one value at two versions means one write took effect twice.
    private static void FindDuplicates(string key, List<HistoryOperation> ops, List<DuplicatedEffect> duplicates)
    {
        var written = ops.Where(o => o.Kind == OperationKind.Write && o.Value is not null).Select(o => o.Value!).ToHashSet(StringComparer.Ordinal);
        var seen = ops
            .Where(o => o.Outcome == OperationOutcome.Ok && o.Value is not null && o.Version > 0 && written.Contains(o.Value))
            .GroupBy(o => o.Value!, StringComparer.Ordinal);
        foreach (var value in seen)
        {
            var versions = value.Select(o => o.Version).Distinct().Order().ToList();
            if (versions.Count > 1)
            {
                duplicates.Add(new DuplicatedEffect(key, value.Key, versions));
            }
        }
    }
}
