using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Grains.Runtime;

namespace OrleansReplication.Silo.Runtime;

/// <summary>
/// The silo's grain runtime: one activation per grain identity, created on first call,
/// calls run in turns, idle activations collected. Also the silo-side <see cref="IGrainFactory"/>.
/// </summary>
internal sealed partial class GrainRuntime : IGrainFactory
{
    private readonly ConcurrentDictionary<GrainId, Activation> _activations = new();
    private readonly GrainTypeRegistry _types;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly GrainRuntimeOptions _options;
    private readonly ILogger<GrainRuntime> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Func<GrainId, Activation> _createActivation;

    public GrainRuntime(GrainTypeRegistry types, IServiceProvider services, TimeProvider time, IOptions<GrainRuntimeOptions> options, ILogger<GrainRuntime> logger)
    {
        _types = types;
        _services = services;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _createActivation = CreateActivation;
    }

    /// <summary>Signalled when the silo stops; passed to <see cref="Grain.OnActivateAsync"/>.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>How many activations are live (including ones deactivating).</summary>
    public int ActivationCount => _activations.Count;

    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey)
        where TGrainInterface : IGrainWithStringKey
    {
        ArgumentNullException.ThrowIfNull(primaryKey);
        return GrainProxy.Create<TGrainInterface>(this, GrainId.For<TGrainInterface>(primaryKey));
    }

    /// <summary>Runs <paramref name="call"/> on the grain's activation, in its turn order.</summary>
    public Task<TResult> InvokeAsync<TGrain, TResult>(GrainId grainId, Func<TGrain, Task<TResult>> call)
    {
        var item = new GrainWorkItem<TGrain, TResult>(call);
        var activation = _activations.GetOrAdd(grainId, _createActivation);
        return activation.TryPost(item, _time.GetTimestamp()) ? item.Completion : InvokeSlowAsync(grainId, item, activation);
    }

    /// <summary>Deactivates every activation idle for longer than the idle timeout; returns how many were closed.</summary>
    public int CollectIdle()
    {
        var now = _time.GetTimestamp();
        var closed = 0;
        foreach (var (_, activation) in _activations)
        {
            if (_time.GetElapsedTime(activation.LastUsedTimestamp, now) >= _options.IdleTimeout && activation.TryCloseIfIdle(DeactivationReason.Idle))
            {
                closed++;
            }
        }

        return closed;
    }

    /// <summary>Deactivates every activation (after its queued calls) and waits for them, up to <paramref name="cancellationToken"/>.</summary>
    public async Task DeactivateAllAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        var pending = new List<Task>();
        foreach (var (_, activation) in _activations)
        {
            if (!activation.TryCloseIfIdle(DeactivationReason.ShuttingDown))
            {
                activation.DeactivateOnIdle();
            }

            pending.Add(activation.Deactivated);
        }

        await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    internal void OnDeactivated(Activation activation) =>
        _activations.TryRemove(KeyValuePair.Create(activation.GrainId, activation));

    internal void OnActivationFailed(Activation activation, Exception exception) =>
        LogActivationFailed(activation.GrainId, exception);

    internal void OnDeactivationFailed(Activation activation, Exception exception) =>
        LogDeactivationFailed(activation.GrainId, exception);

    private async Task<TResult> InvokeSlowAsync<TGrain, TResult>(GrainId grainId, GrainWorkItem<TGrain, TResult> item, Activation closed)
    {
        while (true)
        {
            // The activation closed between lookup and post: wait until it is gone, then the
            // next lookup creates a fresh one.
            await closed.Deactivated.ConfigureAwait(false);
            var activation = _activations.GetOrAdd(grainId, _createActivation);
            if (activation.TryPost(item, _time.GetTimestamp()))
            {
                return await item.Completion.ConfigureAwait(false);
            }

            closed = activation;
        }
    }

    private Activation CreateActivation(GrainId grainId)
    {
        var factory = _types.Resolve(grainId.Type);
        return new Activation(this, grainId, () => (Grain)factory(_services, null), _time.GetTimestamp());
    }

    [LoggerMessage(EventId = LogEvents.ActivationFailed, Level = LogLevel.Warning, Message = "Activation of grain {GrainId} failed; its queued calls fail with the same error and the next call retries activation.")]
    private partial void LogActivationFailed(GrainId grainId, Exception exception);

    [LoggerMessage(EventId = LogEvents.DeactivationFailed, Level = LogLevel.Warning, Message = "OnDeactivateAsync of grain {GrainId} threw; the activation is removed anyway.")]
    private partial void LogDeactivationFailed(GrainId grainId, Exception exception);
}
