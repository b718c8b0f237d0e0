using System.Text.Json;

namespace OrleansReplication.Grains.State;

/// <summary>
/// <see cref="IReplicatedState{TState}"/> over the local partition: the state is JSON (a
/// <c>byte[]</c> state is the JSON itself), read from the warm copy and written through the
/// partition's commit loop. A call that finds this silo no longer leading the partition
/// deactivates the grain and rethrows, so the caller's retry is placed on the new primary.
/// </summary>
internal sealed class ReplicatedState<TState> : IReplicatedState<TState>
{
    private readonly IGrainContext _context;
    private readonly IPartitionAccess _access;
    private readonly PartitionActivations _activations;
    private readonly JsonSerializerOptions _json;
    private readonly string _grainKey;

    // Parsed from the grain key on the first call (a malformed key fails that call with a typed
    // error, not the activation); the activation's own turns only.
    private string _component = string.Empty;
    private ItemKey _key;

    // The activation's own turns only (the grain is not reentrant), so no synchronisation.
    private int _partition = -1;
    private bool _registered;

    public ReplicatedState(IGrainContext context, IPartitionAccess access, PartitionActivations activations, string grainKey, JsonSerializerOptions json)
    {
        _context = context;
        _access = access;
        _activations = activations;
        _grainKey = grainKey;
        _json = json;
        context.ObservableLifecycle.Subscribe(
            nameof(ReplicatedState<TState>),
            GrainLifecycleStage.SetupState,
            static _ => Task.CompletedTask,
            _ =>
            {
                if (_registered)
                {
                    _activations.Remove(_partition, _context);
                }

                return Task.CompletedTask;
            });
    }

    public TState State { get; set; } = default!;

    public long Version { get; private set; }

    public bool RecordExists { get; private set; }

    public Task ReadStateAsync(CancellationToken cancellationToken = default)
    {
        var partition = Lead();
        var found = _access.Get(partition, _component, [_key]);
        if (found.Length == 0)
        {
            (State, Version, RecordExists) = (default!, 0, false);
        }
        else
        {
            (State, Version, RecordExists) = (Deserialize(found[0].Json), found[0].Version, true);
        }

        return Task.CompletedTask;
    }

    /// <summary>The state's JSON as stored (no copy), or null when it does not exist; reads the partition.</summary>
    public JsonItem? ReadStored()
    {
        var found = _access.Get(Lead(), _component, [_key]);
        return found.Length == 0 ? null : found[0];
    }

    public async Task<WriteResult> WriteStateAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default)
    {
        Lead(); // parses the key on the first call
        var result = await CommitAsync(new ItemWriteData(_key, Serialize(State), expect), safety, cancellationToken);
        (Version, RecordExists) = (result.Version, true);
        return result;
    }

    public async Task<WriteResult> ClearStateAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default)
    {
        Lead(); // parses the key on the first call
        var result = await CommitAsync(new ItemWriteData(_key, null, expect), safety, cancellationToken);
        (State, Version, RecordExists) = (default!, 0, false);
        return result;
    }

    private async Task<WriteResult> CommitAsync(ItemWriteData write, SafetyLevel safety, CancellationToken cancellationToken)
    {
        var partition = Lead();
        try
        {
            var results = await _access.ApplyAsync(partition, _component, [write], safety, IdFromRequestContext(), cancellationToken);
            return results[0];
        }
        catch (PartitionMovedException)
        {
            Deactivate();
            throw;
        }
    }

    private int Lead()
    {
        if (_partition < 0)
        {
            (_component, _key) = StateItemGrainKey.Parse(_grainKey);
            _partition = _access.GetPartition(_component, _key);
        }

        try
        {
            _access.EnsureLeads(_partition);
        }
        catch (PartitionMovedException)
        {
            Deactivate();
            throw;
        }

        if (!_registered)
        {
            _activations.Add(_partition, _context);
            _registered = true;
        }

        return _partition;
    }

    private void Deactivate() => PartitionMoves.Leave(_context, _access, _partition);

    private static IdempotencyId? IdFromRequestContext() =>
        RequestContext.Get(IdempotencyId.RequestContextKey) is IdempotencyId id ? id : null;

    private byte[] Serialize(TState state) =>
        typeof(TState) == typeof(byte[]) ? (byte[])(object)state! : JsonSerializer.SerializeToUtf8Bytes(state, _json);

    private TState Deserialize(byte[] json) =>
        typeof(TState) == typeof(byte[]) ? (TState)(object)json : JsonSerializer.Deserialize<TState>(json, _json)!;
}

/// <summary>
/// Makes a grain's <see cref="IReplicatedState{TState}"/>: the item is named by the grain's string
/// key (<see cref="StateItemGrainKey"/>). The shape of the facet factory a <c>[ReplicatedState]</c>
/// attribute will use.
/// </summary>
internal sealed class ReplicatedStateFactory(IPartitionAccess access, PartitionActivations activations)
{
    public ReplicatedState<TState> Create<TState>(IGrainContext context, JsonSerializerOptions? json = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new ReplicatedState<TState>(context, access, activations, context.GrainId.Key.ToString()!, json ?? JsonSerializerOptions.Web);
    }
}
