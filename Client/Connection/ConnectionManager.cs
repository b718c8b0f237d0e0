using Microsoft.Extensions.Logging;

namespace OrleansReplication.Client;

/// <summary>
/// Keeps one live gateway connection: connects to the first reachable gateway, and when the
/// connection breaks, reconnects (next gateway first) with exponential backoff. Callers wait for
/// the current connection instead of failing while a reconnect is under way.
/// </summary>
internal sealed partial class ConnectionManager : IAsyncDisposable
{
    private readonly ReplicationClientOptions _options;
    private readonly Lock _gatewaysLock = new();

    // Replaced under _gatewaysLock by RedirectAsync; read by the connect loop.
    private GatewayAddress[] _gateways;
    private GatewayAddress? _preferred;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _disposing = new();
    private readonly Task _loop;

    // Replaced (under no lock: one writer, the loop) each time a connection is established or lost;
    // readers take the current task and await it.
    private volatile TaskCompletionSource<GatewayConnection> _current = NewSource();

    public ConnectionManager(ReplicationClientOptions options, ILogger logger)
    {
        _options = options;
        _gateways = options.Gateways.Select(g => GatewayAddress.TryParse(g, out var a) ? a : throw new ArgumentException($"Gateway '{g}' is not 'host:port'.")).ToArray();
        _logger = logger;
        _loop = Task.Run(ConnectLoopAsync);
    }

    /// <summary>
    /// Moves to the gateway at <paramref name="gateway"/> (<c>host:port</c>, added to the list if
    /// new): the connection <paramref name="current"/> is closed and the next one is made there.
    /// </summary>
    public async Task RedirectAsync(string gateway, GatewayConnection current)
    {
        if (!GatewayAddress.TryParse(gateway, out var address))
        {
            return;
        }

        lock (_gatewaysLock)
        {
            if (!_gateways.Contains(address))
            {
                _gateways = [.. _gateways, address];
            }

            _preferred = address;
        }

        if (current.Address != address)
        {
            await current.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The current connection, waiting for one to be established if needed.</summary>
    public Task<GatewayConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var current = _current.Task;
        return current.IsCompletedSuccessfully && !current.Result.Closed.IsCompleted ? current : WaitForOpenConnectionAsync(cancellationToken);
    }

    // A connection that just closed (a redirect, a lost gateway) is never handed out: wait for the
    // connect loop to replace it, which it does as soon as it sees the close.
    private async Task<GatewayConnection> WaitForOpenConnectionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var source = _current;
            var connection = await source.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!connection.Closed.IsCompleted)
            {
                return connection;
            }

            while (ReferenceEquals(_current, source))
            {
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    private async Task ConnectLoopAsync()
    {
        var delay = _options.MinReconnectDelay;
        var next = 0;
        var token = _disposing.Token;
        while (!token.IsCancellationRequested)
        {
            GatewayAddress address;
            lock (_gatewaysLock)
            {
                if (_preferred is { } preferred)
                {
                    address = preferred;
                    _preferred = null;
                }
                else
                {
                    address = _gateways[next % _gateways.Length];
                    next = (next + 1) % _gateways.Length;
                }
            }

            GatewayConnection connection;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(_options.ConnectTimeout);
                connection = await GatewayConnection.ConnectAsync(address, _options.ClientId, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                LogConnectFailed(address.ToString(), delay.TotalMilliseconds, ex.Message);
                await DelayAsync(delay, token).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
                continue;
            }
            catch (OperationCanceledException)
            {
                break;
            }

            LogConnected(address.ToString(), connection.Hello.SiloId);
            delay = _options.MinReconnectDelay;
            _current.TrySetResult(connection);
            await ((Task)connection.Closed).WaitAsync(token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _current = NewSource();
            await connection.DisposeAsync().ConfigureAwait(false);
            if (!token.IsCancellationRequested)
            {
                LogDisconnected(address.ToString(), connection.Closed.IsCompleted ? connection.Closed.Result.Message : "closing");
            }
        }

        _current.TrySetException(new ObjectDisposedException(nameof(ReplicationClient), "The replication client was disposed."));
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken token) =>
        await Task.Delay(delay, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    private static TaskCompletionSource<GatewayConnection> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Connected to gateway {Gateway} (silo {SiloId}).")]
    private partial void LogConnected(string gateway, string siloId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Lost the connection to gateway {Gateway}: {Reason}. Reconnecting.")]
    private partial void LogDisconnected(string gateway, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Could not connect to gateway {Gateway}: {Reason}. Retrying in {DelayMs} ms; check that a silo runs there.")]
    private partial void LogConnectFailed(string gateway, double delayMs, string reason);
}
