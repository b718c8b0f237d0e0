using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// One TCP connection to a gateway: requests are pipelined (matched by correlation id), written
/// by one loop that flushes once per batch, and answered by one read loop. A broken connection
/// fails every pending request and is never reused.
/// </summary>
internal sealed class GatewayConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Lock _pendingLock = new();
    private readonly Channel<(MessageType Type, ulong CorrelationId, IMessage Message)> _outgoing =
        Channel.CreateUnbounded<(MessageType, ulong, IMessage)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly int _maxFrameBytes;
    private Task? _readLoop;
    private Task? _writeLoop;
    private long _nextCorrelationId;

    // Set once by the first failure; read by senders to fail fast.
    private volatile Exception? _broken;

    private GatewayConnection(Socket socket, GatewayAddress address, int maxFrameBytes)
    {
        _socket = socket;
        Address = address;
        _maxFrameBytes = maxFrameBytes;
        var stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(stream);
        _output = PipeWriter.Create(stream);
    }

    public GatewayAddress Address { get; }

    public HelloReply Hello { get; private set; } = new();

    /// <summary>Completes when the connection broke; carries why.</summary>
    public Task<Exception> Closed => _closed.Task;

    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<GatewayConnection> ConnectAsync(GatewayAddress address, string clientId, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var connection = new GatewayConnection(socket, address, FrameCodec.DefaultMaxFrameBytes);
        connection._readLoop = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
        connection._writeLoop = Task.Run(connection.WriteLoopAsync, CancellationToken.None);
        try
        {
            connection.Hello = await connection.SendAsync(MessageType.Hello, new Hello { ProtocolVersion = FrameCodec.ProtocolVersion, ClientId = clientId }, MessageType.HelloReply, HelloReply.Parser)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return connection;
    }

    public Task<TReply> SendAsync<TReply>(MessageType type, IMessage request, MessageType replyType, MessageParser<TReply> parser, CancellationToken cancellationToken = default)
        where TReply : IMessage<TReply>
    {
        if (_broken is { } broken)
        {
            return Task.FromException<TReply>(Lost(broken));
        }

        var pending = new PendingRequest<TReply>(replyType, parser);
        var correlationId = (ulong)Interlocked.Increment(ref _nextCorrelationId);
        lock (_pendingLock)
        {
            _pending[correlationId] = pending;
        }

        if (!_outgoing.Writer.TryWrite((type, correlationId, request)))
        {
            Forget(correlationId);
            return Task.FromException<TReply>(Lost(_broken));
        }

        if (cancellationToken.CanBeCanceled)
        {
            // A caller that gives up must not leave its entry behind until the connection closes.
            var registration = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var (connection, id, p) = ((GatewayConnection, ulong, PendingRequest))state!;
                    connection.Forget(id);
                    p.Fail(new OperationCanceledException(token));
                },
                (this, correlationId, (PendingRequest)pending));
            _ = pending.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return pending.Task;
    }

    /// <summary>Drops a pending request whose caller gave up (timeout or cancellation).</summary>
    public void Forget(ulong correlationId)
    {
        lock (_pendingLock)
        {
            _pending.Remove(correlationId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Break(new ObjectDisposedException(nameof(GatewayConnection), "The client is closing."));
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(false);
        }

        if (_writeLoop is not null)
        {
            await _writeLoop.ConfigureAwait(false);
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (FrameCodec.TryRead(ref buffer, _maxFrameBytes, out var frame))
                    {
                        PendingRequest? pending;
                        lock (_pendingLock)
                        {
                            _pending.Remove(frame.CorrelationId, out pending);
                        }

                        pending?.Complete(frame);
                    }
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    Break(new IOException($"Gateway {Address} closed the connection."));
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            Break(ex);
        }
        finally
        {
            await CompleteQuietlyAsync(_input.CompleteAsync()).ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    FrameCodec.Write(_output, item.Type, item.CorrelationId, item.Message);
                }

                var flush = await _output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            Break(ex);
        }
        finally
        {
            await CompleteQuietlyAsync(_output.CompleteAsync()).ConfigureAwait(false);
        }
    }

    // Completing a pipe half flushes or disposes the shared stream; once the other half or the
    // peer closed it, that throws, and there is nothing left to report.
    private static async ValueTask CompleteQuietlyAsync(ValueTask completion)
    {
        try
        {
            await completion.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
        }
    }

    private void Break(Exception reason)
    {
        List<PendingRequest> failed;
        lock (_pendingLock)
        {
            if (_broken is not null)
            {
                return;
            }

            _broken = reason;
            failed = [.. _pending.Values];
            _pending.Clear();
        }

        _outgoing.Writer.TryComplete();
        _input.CancelPendingRead();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        var error = Lost(reason);
        foreach (var pending in failed)
        {
            pending.Fail(error);
        }

        _closed.TrySetResult(reason);
    }

    private ReplicaUnavailableException Lost(Exception? reason) => new(
        $"The connection to gateway {Address} was lost ({reason?.Message}). A write in flight may or may not have been applied; read it back before retrying a conditional write.",
        TimeSpan.FromMilliseconds(100),
        reason);
}
