namespace OrleansReplication.Bench.Measurement.History;

/// <summary>The verdict on one key's history.</summary>
public enum Linearizability
{
    /// <summary>Some order of the operations, each at a point between its invoke and its completion, obeys the register's specification.</summary>
    Linearizable,

    /// <summary>No such order exists: a client observed something the system must never show.</summary>
    NotLinearizable,

    /// <summary>The search gave up after its step budget (too many concurrent operations).</summary>
    Unknown,
}

/// <summary>
/// Wing and Gong's linearizability search with Lowe's memoization of (linearized set, state), as
/// Porcupine implements it, for the <see cref="RegisterModel"/>. Keys are independent registers,
/// so a history is checked key by key (P-compositionality): each search stays small.
/// Failed operations are left out (they had no effect); operations with an unknown outcome may
/// take effect at any point after their invocation, or never (their completion is "infinitely late").
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>Checks one key's operations against the register, starting from <paramref name="initial"/>.</summary>
    /// <param name="operations">The key's operations (others are ignored by the caller, not here).</param>
    /// <param name="initial">The key's state before the history; <see cref="RegisterState.Absent"/> for a fresh key.</param>
    /// <param name="maxSteps">The search's budget before it answers <see cref="Linearizability.Unknown"/>.</param>
    public static Linearizability CheckKey(IEnumerable<HistoryOperation> operations, RegisterState initial, long maxSteps = 10_000_000)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var ops = operations
            .Where(o => o.Outcome != OperationOutcome.Fail && !(o.Kind == OperationKind.Read && o.IsIndeterminate))
            .ToList();
        if (ops.Count == 0)
        {
            return Linearizability.Linearizable;
        }

        var head = BuildEntries(ops);
        var linearized = new ulong[(ops.Count + 63) / 64];
        var cache = new HashSet<CacheKey>();
        var calls = new Stack<(Entry Call, RegisterState Before)>();
        var state = initial;
        var entry = head.Next!;
        long steps = 0;
        while (head.Next is not null)
        {
            if (++steps > maxSteps)
            {
                return Linearizability.Unknown;
            }

            if (entry.IsCall)
            {
                var (legal, next) = RegisterModel.Step(state, ops[entry.Op]);
                if (legal)
                {
                    Set(linearized, entry.Op, true);
                    if (cache.Add(new CacheKey([.. linearized], next)))
                    {
                        calls.Push((entry, state));
                        state = next;
                        Lift(entry);
                        entry = head.Next!;
                        continue;
                    }

                    Set(linearized, entry.Op, false);
                }

                entry = entry.Next!;
            }
            else
            {
                // An operation returned before every candidate was linearized: backtrack.
                if (calls.Count == 0)
                {
                    return Linearizability.NotLinearizable;
                }

                var (call, before) = calls.Pop();
                state = before;
                Set(linearized, call.Op, false);
                Unlift(call);
                entry = call.Next!;
            }
        }

        return Linearizability.Linearizable;
    }

    // Calls and returns in time order (a call before a return at the same instant: they overlap),
    // as a doubly linked list behind a sentinel head.
    private static Entry BuildEntries(List<HistoryOperation> ops)
    {
        var events = new List<(long Time, int Order, int Index, Entry Entry)>(ops.Count * 2);
        for (var i = 0; i < ops.Count; i++)
        {
            var call = new Entry(i, isCall: true);
            var ret = new Entry(i, isCall: false);
            call.Match = ret;
            var completed = ops[i].IsIndeterminate ? long.MaxValue : ops[i].Completed;
            events.Add((ops[i].Invoked, 0, i, call));
            events.Add((completed, 1, i, ret));
        }

        // Ties keep the recorded order (List.Sort is not stable), so the search tries operations as they were issued first.
        events.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Order != b.Order ? a.Order.CompareTo(b.Order) : a.Index.CompareTo(b.Index));
        var head = new Entry(-1, isCall: false);
        var previous = head;
        foreach (var (_, _, _, e) in events)
        {
            previous.Next = e;
            e.Prev = previous;
            previous = e;
        }

        return head;
    }

    private static void Lift(Entry call)
    {
        call.Prev!.Next = call.Next;
        call.Next!.Prev = call.Prev;
        var ret = call.Match!;
        ret.Prev!.Next = ret.Next;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret.Prev;
        }
    }

    private static void Unlift(Entry call)
    {
        var ret = call.Match!;
        ret.Prev!.Next = ret;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret;
        }

        call.Prev!.Next = call;
        call.Next!.Prev = call;
    }

    private static void Set(ulong[] bits, int index, bool value)
    {
        if (value)
        {
            bits[index >> 6] |= 1UL << (index & 63);
        }
        else
        {
            bits[index >> 6] &= ~(1UL << (index & 63));
        }
    }

    private sealed class Entry(int op, bool isCall)
    {
        public int Op { get; } = op;

        public bool IsCall { get; } = isCall;

        public Entry? Match { get; set; }

        public Entry? Prev { get; set; }

        public Entry? Next { get; set; }
    }

    private sealed class CacheKey(ulong[] bits, RegisterState state) : IEquatable<CacheKey>
    {
        private readonly int _hash = Hash(bits, state);

        public bool Equals(CacheKey? other) => other is not null && _hash == other._hash && state == other.State && bits.AsSpan().SequenceEqual(other.Bits);

        public override bool Equals(object? obj) => Equals(obj as CacheKey);

        public override int GetHashCode() => _hash;

        private ulong[] Bits => bits;

        private RegisterState State => state;

        private static int Hash(ulong[] bits, RegisterState state)
        {
            var hash = new HashCode();
            foreach (var word in bits)
            {
                hash.Add(word);
            }

            hash.Add(state);
            return hash.ToHashCode();
        }
    }
}
