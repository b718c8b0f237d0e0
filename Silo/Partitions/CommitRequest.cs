using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Silo.Partitions;

/// <summary>One caller's writes to one partition, waiting for the commit loop. Atomic: all apply or none.</summary>
internal sealed class CommitRequest(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety, RequestKey? key = null) : ISequenceWaiter
{
    private readonly TaskCompletionSource<IReadOnlyList<WriteResult>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wakes the commit loop without writing anything (a snapshot was asked for); never completed.</summary>
    public static CommitRequest Wake { get; } = new(string.Empty, [], SafetyLevel.Local);

    public string Component { get; } = component;

    public IReadOnlyList<ItemWriteData> Writes { get; } = writes;

    public SafetyLevel Safety { get; } = safety;

    /// <summary>The idempotency id, when the caller gave one: a retry with it is answered from the first attempt.</summary>
    public RequestKey? Key { get; } = key;

    /// <summary>Set by the commit loop when it recorded this request under <see cref="Key"/> (not on a replay).</summary>
    public RecordedRequest? Recorded { get; set; }

    /// <summary>The level the write waits for: <see cref="SafetyLevel.Default"/> is <see cref="SafetyLevel.Applied"/>.</summary>
    public SafetyLevel EffectiveSafety => Safety == SafetyLevel.Default ? SafetyLevel.Applied : Safety;

    /// <summary>Set by the commit loop once the writes are validated; handed to the caller after the commit.</summary>
    public WriteResult[]? Results { get; set; }

    /// <summary>
    /// Set by the commit loop: the partition's sequence number after this request's changes (the
    /// sequence it observed, when it changed nothing). The request is acknowledged once its safety
    /// level's watermark reaches it.
    /// </summary>
    public long LastSequence { get; set; }

    public int JsonBytes
    {
        get
        {
            var total = 0;
            foreach (var write in Writes)
            {
                total += write.Json?.Length ?? 0;
            }

            return total;
        }
    }

    public Task<IReadOnlyList<WriteResult>> Completion => _completion.Task;

    public void Complete() => _completion.TrySetResult(Results!);

    public void Fail(Exception exception) => _completion.TrySetException(exception);
}
