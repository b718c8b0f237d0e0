using OrleansReplication.Grains.State;

namespace OrleansReplication.Silo.Partitions;

/// <summary>One caller's writes to one partition, waiting for the commit loop. Atomic: all apply or none.</summary>
internal sealed class CommitRequest(string component, IReadOnlyList<ItemWriteData> writes, SafetyLevel safety)
{
    private readonly TaskCompletionSource<IReadOnlyList<WriteResult>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Component { get; } = component;

    public IReadOnlyList<ItemWriteData> Writes { get; } = writes;

    public SafetyLevel Safety { get; } = safety;

    /// <summary>Set by the commit loop once the writes are validated; handed to the caller after the commit.</summary>
    public WriteResult[]? Results { get; set; }

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
