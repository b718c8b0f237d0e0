using Google.Protobuf;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Transport;

/// <summary>
/// Kestrel handler of the silo port: a peer silo introduces itself with <see cref="SiloHello"/>,
/// then its frames are routed by <see cref="SiloMessageRouter"/>. Replies travel back on the
/// same connection.
/// </summary>
internal sealed partial class SiloConnectionHandler(SiloMessageRouter router, SiloIdentity identity, IOptions<SiloOptions> options, ILogger<SiloConnectionHandler> logger) : ConnectionHandler
{
    private readonly ILogger _logger = logger;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var framed = new FramedConnection(connection.Transport, options.Value.MaxFrameBytes, SiloTransportLimits.MaxQueuedFrames, OnFrame);
        var lifetime = connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionLifetimeNotificationFeature>();
        using var closeRequested = (lifetime?.ConnectionClosedRequested ?? CancellationToken.None)
            .UnsafeRegister(static s => ((FramedConnection)s!).Close(new IOException("The silo is stopping.")), framed);
        await framed.RunAsync().ConfigureAwait(false);
        if (framed.Peer is SiloIncarnation peer)
        {
            LogPeerDisconnected(peer.ToString(), framed.Closed.Result.Message);
        }
    }

    private void OnFrame(FramedConnection connection, in Frame frame)
    {
        try
        {
            if (connection.Peer is null)
            {
                Handshake(connection, frame);
            }
            else if (!router.TryRoute(connection, frame))
            {
                connection.TrySend(MessageType.Error, frame.CorrelationId, new ErrorReply
                {
                    Code = ErrorCode.ErrorUnknownMessage,
                    Message = $"Silo {identity.Address} does not handle message type {(byte)frame.Type}; are both silos on the same release?",
                });
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            LogMalformed(connection.Peer?.ToString() ?? "(before handshake)", frame.Type.ToString(), ex.Message);
            connection.TrySend(MessageType.Error, frame.CorrelationId, new ErrorReply { Code = ErrorCode.ErrorProtocol, Message = $"Malformed {frame.Type}: {ex.Message}" });
        }
    }

    private void Handshake(FramedConnection connection, in Frame frame)
    {
        if (frame.Type != MessageType.SiloHello)
        {
            Refuse(connection, frame.CorrelationId, "The first frame on the silo port must be SiloHello. Clients connect to the gateway port.");
            return;
        }

        var hello = SiloHello.Parser.ParseFrom(frame.Body);
        if (hello.ProtocolVersion != FrameCodec.ProtocolVersion || !SiloIncarnation.TryParse(hello.Silo, out var peer))
        {
            Refuse(connection, frame.CorrelationId, $"SiloHello refused: protocol {hello.ProtocolVersion} (this silo speaks {FrameCodec.ProtocolVersion}), silo '{hello.Silo}'.");
            return;
        }

        connection.Peer = peer;
        connection.TrySend(MessageType.SiloHelloReply, frame.CorrelationId, new SiloHelloReply { ProtocolVersion = FrameCodec.ProtocolVersion, Silo = identity.Address.ToString() });
        LogPeerConnected(peer.ToString());
    }

    private void Refuse(FramedConnection connection, ulong correlationId, string message)
    {
        LogRefused(message);
        connection.TrySend(MessageType.Error, correlationId, new ErrorReply { Code = ErrorCode.ErrorProtocol, Message = message });
        connection.Close(new ProtocolException(message));
    }

    [LoggerMessage(EventId = LogEvents.SiloPeerConnected, Level = LogLevel.Debug, Message = "Silo {Peer} connected to this silo's silo port.")]
    private partial void LogPeerConnected(string peer);

    [LoggerMessage(EventId = LogEvents.SiloPeerDisconnected, Level = LogLevel.Debug, Message = "Silo {Peer} disconnected from this silo's silo port: {Reason}")]
    private partial void LogPeerDisconnected(string peer, string reason);

    [LoggerMessage(EventId = LogEvents.SiloPeerRefused, Level = LogLevel.Warning, Message = "Refused a connection on the silo port: {Reason}")]
    private partial void LogRefused(string reason);

    [LoggerMessage(EventId = LogEvents.SiloPeerMalformed, Level = LogLevel.Warning, Message = "Silo {Peer} sent a malformed {Type} frame: {Reason}. The frame was refused; the connection goes on.")]
    private partial void LogMalformed(string peer, string type, string reason);
}

/// <summary>Bounds of the silo-to-silo transport.</summary>
internal static class SiloTransportLimits
{
    // Frames queued per connection before TrySend reports back-pressure; a replication batch is
    // one frame, so this bounds a slow peer's memory at a few thousand batches.
    public const int MaxQueuedFrames = 4096;

    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
}
