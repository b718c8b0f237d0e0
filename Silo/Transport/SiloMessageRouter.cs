using System.Collections.Frozen;
using OrleansReplication.Protocol;

namespace OrleansReplication.Silo.Transport;

/// <summary>
/// Routes silo-to-silo frames (after the handshake) to the part that owns their message type,
/// on the connection's read loop: handlers parse and hand off, never block.
/// </summary>
internal sealed class SiloMessageRouter
{
    private readonly Dictionary<MessageType, FramedConnection.FrameHandler> _handlers = [];
    private FrozenDictionary<MessageType, FramedConnection.FrameHandler>? _frozen;

    /// <summary>Registers the handler of <paramref name="type"/>; only before the first frame is routed.</summary>
    public void Register(MessageType type, FramedConnection.FrameHandler handler)
    {
        if (_frozen is not null)
        {
            throw new InvalidOperationException("Silo message handlers must be registered before the silo starts routing frames.");
        }

        if (!_handlers.TryAdd(type, handler))
        {
            throw new InvalidOperationException($"Silo message type {type} already has a handler; each type has one owner.");
        }
    }

    /// <summary>Routes a frame; false when no part handles its type.</summary>
    public bool TryRoute(FramedConnection connection, in Frame frame)
    {
        // Registration happens at start-up; freezing on first use makes the hot path lock-free.
        var handlers = _frozen ??= _handlers.ToFrozenDictionary();
        if (!handlers.TryGetValue(frame.Type, out var handler))
        {
            return false;
        }

        handler(connection, frame);
        return true;
    }
}
