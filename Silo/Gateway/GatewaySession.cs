using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Api;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Gateway;

/// <summary>
/// One client connection: a read loop that decodes frames and starts requests (many in flight,
/// matched by correlation id), and one write loop that drains replies in batches and flushes
/// once per batch. Bad frames get an error reply; only a frame that breaks framing (oversized or
/// malformed length) closes the connection, since the stream cannot be resynchronized.
/// </summary>
internal sealed partial class GatewaySession
{
    private readonly ConnectionContext _connection;
    private readonly GatewayDispatcher _dispatcher;
    private readonly SiloIdentity _identity;
    private readonly SiloOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Outgoing> _outgoing;
    private readonly SemaphoreSlim _inFlight;
    private readonly CancellationTokenSource _closing = new();
    private bool _handshaken;

    public GatewaySession(ConnectionContext connection, GatewayDispatcher dispatcher, SiloIdentity identity, SiloOptions options, ILogger logger)
    {
        _connection = connection;
        _dispatcher = dispatcher;
        _identity = identity;
        _options = options;
        _logger = logger;
        _inFlight = new SemaphoreSlim(options.MaxInFlightPerConnection);

        // Replies never outnumber requests in flight (+ a few protocol replies), so this bound
        // is never what blocks a writer; it only caps memory.
        _outgoing = Channel.CreateBounded<Outgoing>(new BoundedChannelOptions(options.MaxInFlightPerConnection + 16) { SingleReader = true });
    }

    public async Task RunAsync()
    {
        LogConnected(_connection.ConnectionId, _connection.RemoteEndPoint?.ToString());

        // Kestrel asks connections to close when the silo stops; without this, shutdown would
        // wait for every connected client to hang up.
        var lifetime = _connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionLifetimeNotificationFeature>();
        using var closeRequested = (lifetime?.ConnectionClosedRequested ?? CancellationToken.None).UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _closing);
        var writer = Task.Run(WriteLoopAsync);
        try
        {
            await ReadLoopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionResetException or OperationCanceledException or IOException)
        {
            // The client went away; requests in flight still finish and their replies are dropped.
        }
        finally
        {
            // Taking every permit waits for the requests in flight, so no reply is written to a
            // completed pipe and no task outlives the connection.
            for (var i = 0; i < _options.MaxInFlightPerConnection; i++)
            {
                await _inFlight.WaitAsync().ConfigureAwait(false);
            }

            _outgoing.Writer.TryComplete();
            await writer.ConfigureAwait(false);
            await _connection.Transport.Input.CompleteAsync().ConfigureAwait(false);
            LogDisconnected(_connection.ConnectionId);
        }
    }

    private async Task ReadLoopAsync()
    {
        var input = _connection.Transport.Input;
        var maxFrame = _options.MaxFrameBytes;
        while (!_closing.IsCancellationRequested)
        {
            var result = await input.ReadAsync(_closing.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                while (TryReadFrame(ref buffer, maxFrame, out var frame))
                {
                    if (!await HandleFrameAsync(frame).ConfigureAwait(false))
                    {
                        return;
                    }
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                {
                    LogCutMidFrame(_connection.ConnectionId, buffer.Length);
                }

                return;
            }
        }
    }

    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrame, out Frame frame)
    {
        try
        {
            return FrameCodec.TryRead(ref buffer, maxFrame, out frame);
        }
        catch (ReplicationException ex)
        {
            // Framing is lost: answer once, then close this connection only.
            LogProtocolError(_connection.ConnectionId, ex.Message);
            var code = ex is FrameTooLargeException ? ErrorCode.ErrorTooLarge : ErrorCode.ErrorProtocol;
            Send(MessageType.Error, FrameCodec.PeekCorrelationId(buffer), new ErrorReply { Code = code, Message = ex.Message });
            _closing.Cancel();
            buffer = buffer.Slice(buffer.End);
            frame = default;
            return false;
        }
    }

    /// <summary>Handles one frame; false closes the connection.</summary>
    private async ValueTask<bool> HandleFrameAsync(Frame frame)
    {
        if (!_handshaken)
        {
            return Handshake(frame);
        }

        switch (frame.Type)
        {
            case MessageType.Apply:
                if (TryParse(frame, ApplyRequest.Parser, out var apply))
                {
                    await StartAsync(frame.CorrelationId, apply, static async (d, r, ct) => (MessageType.ApplyReply, (IMessage)await d.ApplyAsync(r, ct).ConfigureAwait(false))).ConfigureAwait(false);
                }

                return true;
            case MessageType.Get:
                if (TryParse(frame, GetRequest.Parser, out var get))
                {
                    Answer(frame.CorrelationId, () => (MessageType.GetReply, _dispatcher.Get(get)));
                }

                return true;
            case MessageType.List:
                if (TryParse(frame, ListRequest.Parser, out var list))
                {
                    Answer(frame.CorrelationId, () => (MessageType.ListReply, _dispatcher.List(list)));
                }

                return true;
            case MessageType.GetPartitionMap:
                if (TryParse(frame, GetPartitionMapRequest.Parser, out GetPartitionMapRequest _))
                {
                    Answer(frame.CorrelationId, () => (MessageType.PartitionMapReply, _dispatcher.GetPartitionMap()));
                }

                return true;
            case MessageType.Ping:
                if (TryParse(frame, Ping.Parser, out var ping))
                {
                    Send(MessageType.Pong, frame.CorrelationId, ping);
                }

                return true;
            default:
                Send(MessageType.Error, frame.CorrelationId, new ErrorReply
                {
                    Code = ErrorCode.ErrorUnknownMessage,
                    Message = $"Unknown message type {(byte)frame.Type}; this silo speaks protocol version {FrameCodec.ProtocolVersion}.",
                });
                return true;
        }
    }

    private bool Handshake(Frame frame)
    {
        if (frame.Type != MessageType.Hello || !TryParse(frame, Hello.Parser, out var hello))
        {
            Send(MessageType.Error, frame.CorrelationId, new ErrorReply { Code = ErrorCode.ErrorProtocol, Message = "The first frame must be Hello." });
            return false;
        }

        if (hello.ProtocolVersion != FrameCodec.ProtocolVersion)
        {
            Send(MessageType.Error, frame.CorrelationId, new ErrorReply
            {
                Code = ErrorCode.ErrorProtocol,
                Message = $"Protocol version {hello.ProtocolVersion} is not supported; this silo speaks version {FrameCodec.ProtocolVersion}. Upgrade the client.",
            });
            return false;
        }

        _handshaken = true;
        Send(MessageType.HelloReply, frame.CorrelationId, new HelloReply
        {
            ProtocolVersion = FrameCodec.ProtocolVersion,
            SiloId = _identity.SiloId,
            PartitionCount = (uint)_identity.PartitionCount,
            MaxFrameBytes = (uint)_options.MaxFrameBytes,
            MaxItemBytes = (uint)_options.MaxItemBytes,
            HttpEndpoint = _identity.HttpEndpoint,
        });
        return true;
    }

    private bool TryParse<T>(Frame frame, MessageParser<T> parser, out T message)
        where T : IMessage<T>
    {
        try
        {
            message = parser.ParseFrom(frame.Body);
            return true;
        }
        catch (InvalidProtocolBufferException ex)
        {
            Send(MessageType.Error, frame.CorrelationId, new ErrorReply { Code = ErrorCode.ErrorProtocol, Message = $"Malformed {frame.Type} body: {ex.Message}" });
            message = default!;
            return false;
        }
    }

    private async ValueTask StartAsync<TRequest>(ulong correlationId, TRequest request, Func<GatewayDispatcher, TRequest, CancellationToken, Task<(MessageType, IMessage)>> handler)
    {
        // Waiting here stops the read loop, so a client that floods requests is slowed by TCP.
        await _inFlight.WaitAsync().ConfigureAwait(false);
        _ = RunRequestAsync(correlationId, request, handler);
    }

    private async Task RunRequestAsync<TRequest>(ulong correlationId, TRequest request, Func<GatewayDispatcher, TRequest, CancellationToken, Task<(MessageType, IMessage)>> handler)
    {
        try
        {
            var (type, reply) = await handler(_dispatcher, request, CancellationToken.None).ConfigureAwait(false);
            Send(type, correlationId, reply);
        }
        catch (Exception ex)
        {
            SendError(correlationId, ex);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private void Answer(ulong correlationId, Func<(MessageType Type, IMessage Reply)> handler)
    {
        try
        {
            var (type, reply) = handler();
            Send(type, correlationId, reply);
        }
        catch (Exception ex)
        {
            SendError(correlationId, ex);
        }
    }

    private void SendError(ulong correlationId, Exception exception)
    {
        var reply = ErrorTranslator.ToErrorReply(exception);
        if (reply.Code == ErrorCode.ErrorInternal)
        {
            LogRequestFailed(_connection.ConnectionId, exception);
        }

        Send(MessageType.Error, correlationId, reply);
    }

    private void Send(MessageType type, ulong correlationId, IMessage message)
    {
        // Bounded above the in-flight limit, so TryWrite fails only once the writer completed.
        _outgoing.Writer.TryWrite(new Outgoing(type, correlationId, message));
    }

    private async Task WriteLoopAsync()
    {
        var output = _connection.Transport.Output;
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    FrameCodec.Write(output, item.Type, item.CorrelationId, item.Message);
                }

                var flush = await output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or InvalidOperationException)
        {
            // Peer gone: nothing more can be written.
        }
        finally
        {
            _closing.Cancel();
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private readonly record struct Outgoing(MessageType Type, ulong CorrelationId, IMessage Message);

    [LoggerMessage(EventId = LogEvents.GatewayConnected, Level = LogLevel.Debug, Message = "Gateway connection {ConnectionId} from {RemoteEndPoint} opened.")]
    private partial void LogConnected(string connectionId, string? remoteEndPoint);

    [LoggerMessage(EventId = LogEvents.GatewayDisconnected, Level = LogLevel.Debug, Message = "Gateway connection {ConnectionId} closed.")]
    private partial void LogDisconnected(string connectionId);

    [LoggerMessage(EventId = LogEvents.GatewayProtocolError, Level = LogLevel.Warning, Message = "Gateway connection {ConnectionId} broke the protocol and is closed: {Reason}. Other connections are unaffected; check the client's version and frame limits.")]
    private partial void LogProtocolError(string connectionId, string reason);

    [LoggerMessage(EventId = LogEvents.GatewayCutMidFrame, Level = LogLevel.Information, Message = "Gateway connection {ConnectionId} ended in the middle of a frame; its {Bytes} buffered bytes were discarded and nothing of that frame was applied.")]
    private partial void LogCutMidFrame(string connectionId, long bytes);

    [LoggerMessage(EventId = LogEvents.GatewayRequestFailed, Level = LogLevel.Error, Message = "A request on gateway connection {ConnectionId} failed with an internal error; the client got ERROR_INTERNAL.")]
    private partial void LogRequestFailed(string connectionId, Exception exception);
}
