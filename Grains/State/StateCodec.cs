using Orleans.Serialization;

namespace OrleansReplication.Grains.State;

/// <summary>
/// How a replicated state becomes the bytes a partition keeps and ships to its standbys: the
/// Orleans serializer for a user grain's state, the bytes themselves for an item's JSON.
/// </summary>
internal sealed class StateCodec<TState>
{
    private readonly Serializer<TState>? _serializer;

    private StateCodec(Serializer<TState>? serializer) => _serializer = serializer;

    /// <summary>Whether the state is the stored bytes themselves (a <c>byte[]</c> of JSON).</summary>
    public bool Raw => _serializer is null;

    /// <summary>The bytes as they are (<typeparamref name="TState"/> is <c>byte[]</c>).</summary>
    public static StateCodec<TState> Bytes() =>
        typeof(TState) == typeof(byte[]) ? new(null) : throw new InvalidOperationException($"Raw state must be byte[], not {typeof(TState)}.");

    /// <summary>The Orleans serializer (what <c>[GenerateSerializer]</c> generated for <typeparamref name="TState"/>).</summary>
    public static StateCodec<TState> Orleans(Serializer<TState> serializer) => new(serializer);

    public byte[] Serialize(TState state) => _serializer is null ? (byte[])(object)state! : _serializer.SerializeToArray(state);

    public TState Deserialize(byte[] bytes) => _serializer is null ? (TState)(object)bytes : _serializer.Deserialize(bytes)!;

    /// <summary>The state of a grain that has none yet: a new one where <typeparamref name="TState"/> can be made, as Orleans' persistent state does.</summary>
    public TState Empty() => _serializer is not null && CanCreate ? Activator.CreateInstance<TState>() : default!;

    private static readonly bool CanCreate = typeof(TState).IsValueType || (!typeof(TState).IsAbstract && typeof(TState).GetConstructor(Type.EmptyTypes) is not null);
}
