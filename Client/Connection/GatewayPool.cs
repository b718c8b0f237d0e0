using Microsoft.Extensions.Logging;

namespace OrleansReplication.Client;

/// <summary>
/// One lazily opened connection per silo gateway: the configured ones and those learned from the
/// partition map. A connection that broke is replaced by a new one on the next request to that
/// gateway; retries and their backoff belong to the caller, which knows the request's deadline.
/// </summary>
internal sealed partial class GatewayPool : IAsyncDisposable
{
    private readonly ReplicationClientOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<GatewayAddress, Task<GatewayConnection>> _connections = [];
    private readonly CancellationTokenSource _disposing = new();

    // Configured gateways first, then learned ones; replaced whole under _lock, read lock-free.
    private volatile GatewayAddress[] _known;
    private int _nextAny;
    private bool _disposed;

    public GatewayPool(ReplicationClientOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _known = [.. options.Gateways.Select(g => GatewayAddress.TryParse(g, out var a) ? a : throw new ArgumentException($"Gateway '{g}' is not 'host:port'.")).Distinct()];
    }

    /// <summary>Adds gateways learned from the partition map to those tried when any silo will do.</summary>
    public void Learn(IEnumerable<GatewayAddress> gateways)
    {
        lock (_lock)
        {
            var added = gateways.Where(g => !_known.Contains(g)).Distinct().ToArray();
            if (added.Length > 0)
            {
                _known = [.. _known, .. added];
            }
        }
    }

    /// <summary>The connection to <paramref name="address"/>, opening it if there is none or it broke.</summary>
    /// <exception cref="ReplicaUnavailableException">The gateway did not accept a connection within the connect timeout.</exception>
    public Task<GatewayConnection> GetAsync(GatewayAddress address, CancellationToken cancellationToken)
    {
        Task<GatewayConnection> connection;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(ReplicationClient));
            if (!_connections.TryGetValue(address, out connection!) || IsDead(connection))
            {
                connection = ConnectAsync(address);
                _connections[address] = connection;
            }
        }

        return connection.IsCompletedSuccessfully ? connection : connection.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// A connection to any silo, <paramref name="avoid"/> last: an open one if there is, else the
    /// known gateways in turn (one pass).
    /// </summary>
    /// <exception cref="ReplicaUnavailableException">No known gateway accepted a connection.</exception>
    public async Task<GatewayConnection> GetAnyAsync(CancellationToken cancellationToken, GatewayAddress? avoid = null)
    {
        var known = _known;
        lock (_lock)
        {
            foreach (var (address, open) in _connections)
            {
                if (address != avoid && open.IsCompletedSuccessfully && !open.Result.Closed.IsCompleted)
                {
                    return open.Result;
                }
            }
        }

        if (avoid is { } avoided && known.Length > 1)
        {
            known = [.. known.Where(k => k != avoided), avoided];
        }

        var start = Interlocked.Increment(ref _nextAny);
        Exception? last = null;
        for (var i = 0; i < known.Length; i++)
        {
            try
            {
                return await GetAsync(known[(int)((uint)(start + i) % (uint)known.Length)], cancellationToken).ConfigureAwait(false);
            }
            catch (ReplicaUnavailableException ex)
            {
                last = ex;
            }
        }

        throw new ReplicaUnavailableException(
            $"No gateway of [{string.Join(", ", known)}] accepted a connection. Check that silos run and their gateway ports are reachable.",
            _options.MinReconnectDelay,
            last);
    }

    public async ValueTask DisposeAsync()
    {
        Task<GatewayConnection>[] connections;
        lock (_lock)
        {
            _disposed = true;
            connections = [.. _connections.Values];
            _connections.Clear();
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        foreach (var connection in connections)
        {
            try
            {
                await (await connection.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ReplicaUnavailableException or OperationCanceledException)
            {
                // It never opened.
            }
        }

        _disposing.Dispose();
    }

    private static bool IsDead(Task<GatewayConnection> connection) =>
        connection.IsFaulted || connection.IsCanceled || (connection.IsCompletedSuccessfully && connection.Result.Closed.IsCompleted);

    private async Task<GatewayConnection> ConnectAsync(GatewayAddress address)
    {
        GatewayConnection connection;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token);
            timeout.CancelAfter(_options.ConnectTimeout);
            connection = await GatewayConnection.ConnectAsync(address, _options.ClientId, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!_disposing.IsCancellationRequested)
        {
            LogConnectFailed(address.ToString(), ex.Message);
            throw new ReplicaUnavailableException($"Could not connect to gateway {address}: {ex.Message}", _options.MinReconnectDelay, ex);
        }

        LogConnected(address.ToString(), connection.Hello.SiloId);
        _ = connection.Closed.ContinueWith(
            (closed, state) =>
            {
                if (!_disposing.IsCancellationRequested)
                {
                    LogDisconnected((string)state!, closed.Result.Message);
                }
            },
            address.ToString(),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return connection;
    }

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Connected to gateway {Gateway} (silo {SiloId}).")]
    private partial void LogConnected(string gateway, string siloId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Lost the connection to gateway {Gateway}: {Reason}. The next request to its partitions reconnects or follows them to their new primary.")]
    private partial void LogDisconnected(string gateway, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Could not connect to gateway {Gateway}: {Reason}. Requests retry with backoff and refresh the partition map; check that a silo runs there.")]
    private partial void LogConnectFailed(string gateway, string reason);
}
