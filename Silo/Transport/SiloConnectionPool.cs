using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Silo.Transport;

/// <summary>
/// Outbound silo-to-silo connections, one per peer incarnation, made on first use and dropped
/// when broken (the next use reconnects). Frames the peer sends back are routed like inbound ones.
/// A peer endpoint that now hosts another incarnation is refused: its data is not the one wanted.
/// </summary>
internal sealed partial class SiloConnectionPool(SiloMessageRouter router, SiloIdentity identity, IOptions<SiloOptions> options, ILogger<SiloConnectionPool> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<SiloIncarnation, Lazy<Task<Outbound>>> _connections = new();
    private readonly ILogger _logger = logger;
    private int _disposed;

    /// <summary>The live connection to <paramref name="peer"/> at <paramref name="endpoint"/> (<c>host:port</c>), connecting if needed.</summary>
    /// <exception cref="ReplicaUnavailableException">The peer could not be reached or is another incarnation.</exception>
    public async Task<FramedConnection> GetAsync(SiloIncarnation peer, string endpoint, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        while (true)
        {
            var lazy = _connections.GetOrAdd(peer, p => new Lazy<Task<Outbound>>(() => ConnectAsync(p, endpoint)));
            Outbound outbound;
            try
            {
                outbound = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _connections.TryRemove(KeyValuePair.Create(peer, lazy));
                LogConnectFailed(peer.ToString(), endpoint, ex.Message);
                throw ex as ReplicaUnavailableException ?? new ReplicaUnavailableException($"Silo {peer} at {endpoint} is unreachable: {ex.Message}", TimeSpan.FromMilliseconds(200), ex);
            }

            if (!outbound.Connection.Closed.IsCompleted)
            {
                return outbound.Connection;
            }

            _connections.TryRemove(KeyValuePair.Create(peer, lazy));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var (_, lazy) in _connections)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
            {
                var outbound = lazy.Value.Result;
                outbound.Connection.Close(new ObjectDisposedException(nameof(SiloConnectionPool), "The silo is stopping."));
                await outbound.Run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        _connections.Clear();
    }

    private async Task<Outbound> ConnectAsync(SiloIncarnation peer, string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), out var port))
        {
            throw new ReplicaUnavailableException($"Silo {peer} has no valid silo endpoint ('{endpoint}').", TimeSpan.FromSeconds(1));
        }

        using var timeout = new CancellationTokenSource(SiloTransportLimits.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint[..colon], port, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var stream = new NetworkStream(socket, ownsSocket: true);
        var pipe = new StreamDuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
        var handshake = new TaskCompletionSource<SiloIncarnation>(TaskCreationOptions.RunContinuationsAsynchronously);
        var connection = new FramedConnection(pipe, options.Value.MaxFrameBytes, SiloTransportLimits.MaxQueuedFrames, (c, in f) => OnFrame(c, f, handshake));
        var run = Task.Run(connection.RunAsync);
        try
        {
            connection.TrySend(MessageType.SiloHello, 0, new SiloHello { ProtocolVersion = FrameCodec.ProtocolVersion, Silo = identity.Address.ToString() });
            var answered = await handshake.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            if (answered != peer)
            {
                throw new ReplicaUnavailableException($"{endpoint} is silo {answered} now, not {peer}: that incarnation is gone.", TimeSpan.FromSeconds(1));
            }
        }
        catch
        {
            connection.Close(new IOException("Handshake failed."));
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        connection.Peer = peer;
        return new Outbound(connection, run);
    }

    private void OnFrame(FramedConnection connection, in Frame frame, TaskCompletionSource<SiloIncarnation> handshake)
    {
        if (connection.Peer is null)
        {
            if (frame.Type == MessageType.SiloHelloReply && SiloIncarnation.TryParse(SiloHelloReply.Parser.ParseFrom(frame.Body).Silo, out var answered))
            {
                handshake.TrySetResult(answered);
            }
            else
            {
                var message = frame.Type == MessageType.Error ? ErrorReply.Parser.ParseFrom(frame.Body).Message : $"unexpected {frame.Type}";
                handshake.TrySetException(new ProtocolException($"Silo handshake refused: {message}"));
            }

            return;
        }

        router.TryRoute(connection, frame);
    }

    private sealed record Outbound(FramedConnection Connection, Task Run);

    private sealed class StreamDuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    [LoggerMessage(EventId = LogEvents.SiloPeerConnectFailed, Level = LogLevel.Warning, Message = "Could not connect to silo {Peer} at {Endpoint}: {Reason}")]
    private partial void LogConnectFailed(string peer, string endpoint, string reason);
}
