using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Tests.Gateway;

/// <summary>A frame-level gateway client over a raw <see cref="TcpClient"/>, able to send anything, including garbage.</summary>
internal sealed class RawGatewayConnection : IAsyncDisposable
{
    public static readonly TimeSpan ReplyDeadline = TimeSpan.FromSeconds(10);

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;

    private RawGatewayConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
        _reader = PipeReader.Create(_stream);
    }

    /// <summary>A received frame, with its body copied out of the pipe.</summary>
    public sealed record ReceivedFrame(MessageType Type, ulong CorrelationId, byte[] Body)
    {
        public T Parse<T>(MessageParser<T> parser)
            where T : IMessage<T> => parser.ParseFrom(Body);

        public ErrorReply AsError()
        {
            Assert.True(Type == MessageType.Error, $"Expected an Error frame, got {Type}.");
            return ErrorReply.Parser.ParseFrom(Body);
        }
    }

    public static async Task<RawGatewayConnection> ConnectAsync(IPEndPoint endPoint)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(endPoint).WaitAsync(ReplyDeadline);
        return new RawGatewayConnection(client);
    }

    /// <summary>Connects and completes the handshake.</summary>
    public static async Task<RawGatewayConnection> OpenAsync(IPEndPoint endPoint)
    {
        var connection = await ConnectAsync(endPoint);
        var reply = await connection.HelloAsync();
        Assert.Equal(MessageType.HelloReply, reply.Type);
        return connection;
    }

    public async Task<ReceivedFrame> HelloAsync(uint protocolVersion = FrameCodec.ProtocolVersion)
    {
        await SendAsync(MessageType.Hello, 1, new Hello { ProtocolVersion = protocolVersion, ClientId = "raw-test" });
        return await ReceiveAsync();
    }

    public Task SendAsync(MessageType type, ulong correlationId, IMessage message) => SendRawAsync(Encode(type, correlationId, message));

    public async Task SendRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes).AsTask().WaitAsync(ReplyDeadline);
        await _stream.FlushAsync();
    }

    /// <summary>Sends a request and returns the reply, checking it carries the request's correlation id.</summary>
    public async Task<ReceivedFrame> RequestAsync(MessageType type, ulong correlationId, IMessage message)
    {
        await SendAsync(type, correlationId, message);
        var reply = await ReceiveAsync();
        Assert.Equal(correlationId, reply.CorrelationId);
        return reply;
    }

    /// <summary>Reads the next frame; fails if the connection ends or nothing arrives before the deadline.</summary>
    public async Task<ReceivedFrame> ReceiveAsync() =>
        await TryReceiveAsync() ?? throw new InvalidOperationException("The silo closed the connection instead of replying.");

    /// <summary>Reads the next frame, or null when the silo closed the connection.</summary>
    public async Task<ReceivedFrame?> TryReceiveAsync()
    {
        using var deadline = new CancellationTokenSource(ReplyDeadline);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"No frame from the gateway within {ReplyDeadline.TotalSeconds:0} s.");
            }
            catch (IOException)
            {
                return null; // reset by the silo
            }

            var buffer = result.Buffer;
            if (FrameCodec.TryRead(ref buffer, int.MaxValue - 64, out var frame))
            {
                var received = new ReceivedFrame(frame.Type, frame.CorrelationId, frame.Body.ToArray());
                _reader.AdvanceTo(buffer.Start);
                return received;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return null;
            }
        }
    }

    /// <summary>Asserts the silo closes the connection (after any frames it still sends, which are returned).</summary>
    public async Task<List<ReceivedFrame>> AssertClosedAsync()
    {
        var trailing = new List<ReceivedFrame>();
        while (await TryReceiveAsync() is { } frame)
        {
            trailing.Add(frame);
            Assert.True(trailing.Count < 100, "The silo kept sending frames instead of closing the connection.");
        }

        return trailing;
    }

    /// <summary>Closes the socket at once (no graceful goodbye).</summary>
    public void Abort() => _client.Client.Close(0);

    public static byte[] Encode(MessageType type, ulong correlationId, IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(writer, type, correlationId, message);
        return writer.WrittenSpan.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync();
        _client.Dispose();
    }
}
