namespace OrleansReplication.Grains.State;

/// <summary>
/// <see cref="IReplicatedState{TState}"/> over this silo's copy of a partition: read from the warm
/// copy, written through the partition's commit loop. A call that finds this silo no longer
/// leading the partition moves the grain to the silo that does and rethrows, so the next call
/// lands there. Used by user grains (<see cref="ReplicatedStateAttribute"/>: read at activation,
/// Orleans-serialized, named by the grain id) and by <c>StateItemGrain</c> (raw JSON, named by its key).
/// </summary>
internal sealed class ReplicatedState<TState> : IReplicatedState<TState>
{
    private readonly IGrainContext _context;
    private readonly IPartitionAccess _access;
    private readonly PartitionActivations _activations;
    private readonly StateCodec<TState> _codec;
    private readonly Func<(string Component, ItemKey Key)> _name;
    private readonly StorageMirror<TState>? _mirror;

    // Named on the first call (a malformed key fails that call with a typed error, not the
    // activation); the activation's own turns only (a grain's turns never interleave here: a
    // reentrant grain's concurrent writes are ordered by the partition and conflict by version).
    private string _component = string.Empty;
    private ItemKey _key;
    private int _partition = -1;
    private bool _registered;

    public ReplicatedState(IGrainContext context, IPartitionAccess access, PartitionActivations activations, StateCodec<TState> codec, Func<(string Component, ItemKey Key)> name, bool readOnActivation, StorageMirror<TState>? mirror = null)
    {
        _context = context;
        _access = access;
        _activations = activations;
        _codec = codec;
        _name = name;
        _mirror = mirror;
        State = codec.Empty();
        context.ObservableLifecycle.Subscribe(
            nameof(ReplicatedState<TState>),
            GrainLifecycleStage.SetupState,
            _ => readOnActivation ? ReadOnActivationAsync() : Task.CompletedTask,
            async _ =>
            {
                if (_registered)
                {
                    _activations.Remove(_partition, _context);
                }

                if (_mirror is not null)
                {
                    // What the storage still lacks goes out before the activation does (bounded: the replicas hold it anyway).
                    await _mirror.FlushAsync(MirrorFlushTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            });
    }

    private static readonly TimeSpan MirrorFlushTimeout = TimeSpan.FromSeconds(5);

    public TState State { get; set; }

    public long Version { get; private set; }

    public string? ETag => RecordExists ? ETags.Of(Version) : null;

    public bool RecordExists { get; private set; }

    // An activation placed on a silo that no longer leads the partition (placed as it moved) reads
    // on the partition's primary and moves there once idle: the caller's call does not fail.
    // With a grain storage, a state the partition lacks is read from it and taken into the
    // partition (the adoption of state an Orleans application persisted before it took the facet).
    private async Task ReadOnActivationAsync()
    {
        await LoadOnActivationAsync();
        if (RecordExists || _mirror is null || await _mirror.ReadAsync() is not { } stored)
        {
            return;
        }

        try
        {
            var result = (await _access.ApplyOnPrimaryAsync(_partition, _component, [new ItemWriteData(_key, _codec.Serialize(stored), Expect.Absent)], SafetyLevel.Default, null, CancellationToken.None))[0];
            (State, Version, RecordExists) = (stored, result.Version, true);
        }
        catch (VersionConflictException)
        {
            await LoadOnActivationAsync(); // taken in meanwhile by another activation's read
        }
    }

    private async Task LoadOnActivationAsync()
    {
        try
        {
            Load(ReadStored(leaveOnMove: false));
        }
        catch (PartitionMovedException)
        {
            // Placed here as the partition moved away: the state is read on its new primary (this
            // activation writes there too), and the grain follows it once idle.
            Load((await _access.GetOnPrimaryAsync(_partition, _component, [_key])).FirstOrDefault());
            Leave();
        }
    }

    public Task ReadStateAsync(CancellationToken cancellationToken = default)
    {
        Load(ReadStored());
        return Task.CompletedTask;
    }

    /// <summary>The state's bytes as stored (no copy), or null when it does not exist; reads the partition.</summary>
    public JsonItem? ReadStored(bool leaveOnMove = true)
    {
        var partition = Lead(leaveOnMove);
        var found = _access.Get(partition, _component, [_key]);
        return found.Length == 0 ? null : found[0];
    }

    public Task WriteStateAsync(SafetyLevel? safety = null, CancellationToken cancellationToken = default) =>
        WriteAsync(Expected(), safety ?? SafetyLevel.Default, cancellationToken);

    public Task ClearStateAsync(SafetyLevel? safety = null, CancellationToken cancellationToken = default) =>
        ClearAsync(Expected(), safety ?? SafetyLevel.Default, cancellationToken);

    /// <summary>Writes <see cref="State"/> if the item is at <paramref name="expect"/>.</summary>
    public async Task<WriteResult> WriteAsync(Expect expect, SafetyLevel safety, CancellationToken cancellationToken)
    {
        Name();
        var bytes = _codec.Serialize(State);
        var result = await CommitAsync(new ItemWriteData(_key, bytes, expect), safety, cancellationToken);
        (Version, RecordExists) = (result.Version, true);
        if (_mirror is not null)
        {
            await _mirror.WriteAsync(bytes, wait: safety == SafetyLevel.Durable);
        }

        return result;
    }

    /// <summary>Removes the state if the item is at <paramref name="expect"/>.</summary>
    public async Task<WriteResult> ClearAsync(Expect expect, SafetyLevel safety, CancellationToken cancellationToken)
    {
        Name();
        var result = await CommitAsync(new ItemWriteData(_key, null, expect), safety, cancellationToken);
        (State, Version, RecordExists) = (_codec.Empty(), 0, false);
        if (_mirror is not null)
        {
            await _mirror.WriteAsync(null, wait: safety == SafetyLevel.Durable);
        }

        return result;
    }

    // Optimistic, as Orleans' ETags: the write holds only if nobody wrote since this copy was read.
    private Expect Expected() => RecordExists ? Expect.Version(Version) : Expect.Absent;

    private async Task<WriteResult> CommitAsync(ItemWriteData write, SafetyLevel safety, CancellationToken cancellationToken)
    {
        try
        {
            try
            {
                var results = await _access.ApplyAsync(Lead(leaveOnMove: false), _component, [write], safety, IdFromRequestContext(), cancellationToken);
                return results[0];
            }
            catch (PartitionMovedException)
            {
                // The partition was handed off under this activation (balancing, a drain, a rolling
                // restart); nothing was applied. The write goes to its new primary, so the grain's
                // call does not fail for a graceful move, and the grain follows it afterwards.
                Leave();
                return (await _access.ApplyOnPrimaryAsync(_partition, _component, [write], safety, IdFromRequestContext(), cancellationToken))[0];
            }
        }
        catch (Exception) when (!_codec.Raw)
        {
            // The grain may go on serving: State becomes what the partition holds (the caller
            // may have changed it in place), not what failed to be written.
            Reload();
            throw;
        }
    }

    private void Reload()
    {
        try
        {
            Load(ReadStored());
        }
        catch (PartitionMovedException)
        {
            // Moving away: the next activation reads it on the primary.
        }
    }

    private void Load(JsonItem? stored) =>
        (State, Version, RecordExists) = stored is null ? (_codec.Empty(), 0, false) : (_codec.Deserialize(stored.Json), stored.Version, true);

    // Names the state on the first call (a malformed key fails that call with a typed error).
    private void Name()
    {
        if (_partition < 0)
        {
            (_component, _key) = _name();
            _partition = _access.GetPartition(_component, _key);
        }
    }

    private int Lead(bool leaveOnMove = true)
    {
        Name();
        try
        {
            _access.EnsureLeads(_partition);
        }
        catch (PartitionMovedException) when (leaveOnMove)
        {
            Leave();
            throw;
        }

        if (!_registered)
        {
            _activations.Add(_partition, _context);
            _registered = true;
        }

        return _partition;
    }

    private void Leave() => PartitionMoves.Leave(_context, _access, _partition);

    private static IdempotencyId? IdFromRequestContext() =>
        RequestContext.Get(IdempotencyId.RequestContextKey) is IdempotencyId id ? id : null;
}
