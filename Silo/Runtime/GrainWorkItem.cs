using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Silo.Runtime;

/// <summary>One call waiting for its turn on an activation.</summary>
internal abstract class GrainWorkItem
{
    /// <summary>Runs the call on the grain; the next call starts only when the returned task ends.</summary>
    public abstract Task RunAsync(Grain grain);

    /// <summary>Fails the call without running it (activation failed or was closed).</summary>
    public abstract void Fail(Exception exception);
}

/// <summary>A call that returns <typeparamref name="TResult"/> to its caller.</summary>
internal sealed class GrainWorkItem<TGrain, TResult>(Func<TGrain, Task<TResult>> call) : GrainWorkItem
{
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TResult> Completion => _completion.Task;

    public override async Task RunAsync(Grain grain)
    {
        try
        {
            _completion.TrySetResult(await call((TGrain)(object)grain).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            _completion.TrySetException(ex);
        }
    }

    public override void Fail(Exception exception) => _completion.TrySetException(exception);
}
