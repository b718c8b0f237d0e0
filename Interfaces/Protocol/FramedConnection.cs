using System.IO.Pipelines;
using System.Threading.Channels;
using Google.Protobuf;

namespace OrleansReplication.Protocol;

/// <summary>
/// A framed duplex connection: one read loop hands each whole frame to a synchronous handler
/// (which must parse it before returning: the buffer is released after), and one write loop
/// drains a bounded queue, writing a batch and flushing once. A broken connection is closed for
/// good, never reused; <see cref="Closed"/> tells why.
/// </summary>
internal sealed class FramedConnection
{
    private readonly IDuplexPipe _transport;
    private readonly int _maxFrameBytes;
    private readonly FrameHandler _onFrame;
    private readonly Channel<(MessageType Type, ulong CorrelationId, IMessage Message)> _outgoing;
    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FramedConnection(IDuplexPipe transport, int maxFrameBytes, int maxQueuedFrames, FrameHandler onFrame)
    {
        _transport = transport;
        _maxFrameBytes = maxFrameBytes;
        _onFrame = onFrame;
        _outgoing = Channel.CreateBounded<(MessageType, ulong, IMessage)>(new BoundedChannelOptions(maxQueuedFrames) { SingleReader = true });
    }

    /// <summary>Handles one frame on the read loop; parse the body before returning.</summary>
    public delegate void FrameHandler(FramedConnection connection, in Frame frame);

    /// <summary>Completes when the connection is closed, with the reason.</summary>
    public Task<Exception> Closed => _closed.Task;

    /// <summary>Any state the owner wants to attach (e.g. the peer's identity after a handshake).</summary>
    public object? Peer { get; set; }

    /// <summary>Runs both loops until the connection closes; completes both pipe halves.</summary>
    public async Task RunAsync()
    {
        var writer = Task.Run(WriteLoopAsync);
        try
        {
            await ReadLoopAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Close(ex);
        }

        Close(new IOException("The connection was closed."));
        await writer.ConfigureAwait(false);
        await CompleteQuietlyAsync(_transport.Input.CompleteAsync()).ConfigureAwait(false);
    }

    /// <summary>Queues a frame without waiting; false when the queue is full (back-pressure) or the connection closed.</summary>
    public bool TrySend(MessageType type, ulong correlationId, IMessage message) =>
        _outgoing.Writer.TryWrite((type, correlationId, message));

    /// <summary>Queues a frame, waiting for room; throws when the connection is closed.</summary>
    public ValueTask SendAsync(MessageType type, ulong correlationId, IMessage message, CancellationToken cancellationToken = default) =>
        _outgoing.Writer.WriteAsync((type, correlationId, message), cancellationToken);

    /// <summary>Closes the connection (idempotent): no more frames are sent or handled.</summary>
    public void Close(Exception reason)
    {
        if (!_closed.TrySetResult(reason))
        {
            return;
        }

        _outgoing.Writer.TryComplete();
        _transport.Input.CancelPendingRead();
    }

    private async Task ReadLoopAsync()
    {
        var input = _transport.Input;
        while (!_closed.Task.IsCompleted)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                while (!_closed.Task.IsCompleted && FrameCodec.TryRead(ref buffer, _maxFrameBytes, out var frame))
                {
                    _onFrame(this, frame);
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var output = _transport.Output;
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    FrameCodec.Write(output, item.Type, item.CorrelationId, item.Message);
                }

                if ((await output.FlushAsync().ConfigureAwait(false)).IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            Close(ex);
        }
        finally
        {
            await CompleteQuietlyAsync(output.CompleteAsync()).ConfigureAwait(false);
        }
    }

    // Completing a pipe half flushes or disposes the shared stream; once the peer or the other
    // half closed it, that throws, and there is nothing left to report.
    private static async ValueTask CompleteQuietlyAsync(ValueTask completion)
    {
        try
        {
            await completion.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
        }
    }
}
