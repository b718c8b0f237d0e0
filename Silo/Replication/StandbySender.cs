using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// Everything this silo replicates to one standby silo: the links of every partition led here
/// that this silo is a standby of share one bounded queue, and one sender turns it into Orleans
/// calls to the standby's <see cref="IReplicaService"/>. Each call carries every record queued
/// since the last one (all partitions, in queue order); at most one call is in flight, so the
/// standby applies the records in the order they were queued. The acks the call answers go to
/// the links. A failed call (the silo died, its connection broke, the call timed out) drops the
/// records queued so far and takes every link out of the in-sync set; the links catch up from
/// their partitions' logs once a call goes through again.
/// </summary>
/// <remarks>
/// Queue bounds are those of the silo-to-silo connection this replaces: <see cref="MaxQueuedRecords"/>
/// records and <see cref="ReplicationOptions.LinkQueueBytes"/> bytes waiting for the next call. A
/// live batch that does not fit is refused (<see cref="TryEnqueue"/> false), so its link leaves the
/// in-sync set rather than letting writes wait; catch-up records wait for room.
/// </remarks>
internal sealed partial class StandbySender : IAsyncDisposable
{
    /// <summary>Records waiting for the next call before live batches are refused: a replication batch is one record, so this bounds a slow standby's memory at a few thousand batches.</summary>
    public const int MaxQueuedRecords = 4096;

    private readonly IReplicaService _service;
    private readonly string _primary;
    private readonly long _maxQueuedBytes;
    private readonly Action<string> _onUnavailable;
    private readonly Action _onUnanswered;
    private readonly TimeSpan _unansweredAfter;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly AsyncSignal _wake = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    // Ack routing by partition: written by links as they attach and close, read by the pump.
    private readonly ConcurrentDictionary<int, NetworkReplicaLink> _links = new();

    // Guarded by _gate: the records waiting for the next call and their bytes; completed (and
    // replaced) whenever the pump takes the queue, so catch-up records waiting for room retry.
    private List<ReplicationMessage> _queue = [];
    private long _queuedBytes;
    private bool _closed;
    private TaskCompletionSource _roomFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Set by the pump when a call failed, cleared when one succeeds (a probe or records); read by
    // links (IsTransportReady) and enqueuers without the lock: a stale read delays a decision by one record.
    private volatile bool _broken;

    // Written under _gate by the first link that finds the sender broken; others await the same probe.
    private Task? _probe;

    /// <param name="service">The standby silo's replica service.</param>
    /// <param name="standby">The standby silo incarnation, for logs.</param>
    /// <param name="primary">This silo, as the standby knows it.</param>
    /// <param name="options">The replication options.</param>
    /// <param name="onUnavailable">Called with the reason when a call fails because the standby's silo is unreachable.</param>
    /// <param name="onUnanswered">Called when a call is unanswered after <see cref="ReplicationOptions.UnansweredCallCheckDelay"/>: Orleans does not fail calls sent over a connection that closed.</param>
    /// <param name="logger">The logger.</param>
    public StandbySender(IReplicaService service, string standby, string primary, ReplicationOptions options, Action<string> onUnavailable, Action onUnanswered, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(options);
        _service = service;
        Standby = standby;
        _primary = primary;
        _maxQueuedBytes = options.LinkQueueBytes;
        _onUnavailable = onUnavailable;
        _onUnanswered = onUnanswered;
        _unansweredAfter = options.UnansweredCallCheckDelay;
        _logger = logger;

        // One loop per standby silo for the sender's life: it sleeps while the queue is empty.
        _pump = Task.Run(PumpAsync, CancellationToken.None);
    }

    /// <summary>The standby silo incarnation, for logs.</summary>
    public string Standby { get; }

    /// <summary>Whether the last call failed and no call has gone through since.</summary>
    public bool Broken => _broken;

    /// <summary>The links that send through here (by partition).</summary>
    public int LinkCount => _links.Count;

    /// <summary>Records waiting for the next call.</summary>
    public int QueuedRecords
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Routes acks of <paramref name="link"/>'s partition to it.</summary>
    public void Add(int partition, NetworkReplicaLink link) => _links[partition] = link;

    /// <summary>Stops routing acks to <paramref name="link"/> (a newer link of the partition keeps its route).</summary>
    public void Remove(int partition, NetworkReplicaLink link) => _links.TryRemove(KeyValuePair.Create(partition, link));

    /// <summary>Queues a record without waiting; false when the queue is at its bound or the standby does not answer.</summary>
    public bool TryEnqueue(in ReplicationMessage message)
    {
        lock (_gate)
        {
            if (_closed || _broken || (_queue.Count > 0 && (_queue.Count >= MaxQueuedRecords || _queuedBytes + message.Bytes > _maxQueuedBytes)))
            {
                return false;
            }

            _queue.Add(message);
            _queuedBytes += message.Bytes;
        }

        // Allocation-free; wakes the pump only if it sleeps (set while a call is in flight, it makes the pump look again after it).
        _wake.Set();
        return true;
    }

    /// <summary>Queues a record, waiting for room (catch-up: its pace is the standby's).</summary>
    /// <exception cref="ReplicaUnavailableException">The standby's silo does not answer.</exception>
    public async ValueTask EnqueueAsync(ReplicationMessage message, CancellationToken cancellationToken)
    {
        while (true)
        {
            ThrowIfBroken();
            Task room;
            lock (_gate)
            {
                room = _roomFreed.Task;
            }

            if (TryEnqueue(message))
            {
                return;
            }

            ThrowIfBroken();
            ObjectDisposedException.ThrowIf(_closed, this);
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Makes sure the standby answers: after a failed call, one empty call (shared by every link) must go through first.</summary>
    /// <exception cref="ReplicaUnavailableException">It still does not answer.</exception>
    public async ValueTask EnsureReachableAsync(CancellationToken cancellationToken)
    {
        if (!_broken)
        {
            return;
        }

        TaskCompletionSource? mine = null;
        Task probe;
        lock (_gate)
        {
            if (_probe is { IsCompleted: false } running)
            {
                probe = running;
            }
            else
            {
                // One probe for every link of this silo; the call itself is made outside the lock.
                mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                probe = _probe = mine.Task;
            }
        }

        if (mine is not null)
        {
            await ProbeAsync().ConfigureAwait(false);
            mine.TrySetResult();
        }

        await probe.WaitAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfBroken();
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _queue.Clear();
            _queuedBytes = 0;
            _roomFreed.TrySetResult();
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_probe is { } probe)
        {
            await probe.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void ThrowIfBroken()
    {
        if (_broken)
        {
            throw new ReplicaUnavailableException($"Standby silo {Standby} does not answer replication calls.", TimeSpan.FromMilliseconds(200));
        }
    }

    private async Task PumpAsync()
    {
        var taken = new List<ReplicationMessage>();
        var token = _stop.Token;
        while (true)
        {
            TaskCompletionSource? freed = null;
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                if (_queue.Count > 0)
                {
                    // Swap the buffers: enqueuers fill the other list while this call is in flight.
                    (taken, _queue) = (_queue, taken);
                    _queuedBytes = 0;
                    freed = _roomFreed;
                    _roomFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            if (taken.Count == 0)
            {
                try
                {
                    await _wake.WaitAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            freed?.TrySetResult();
            var records = taken.ToArray();
            taken.Clear();
            ReplicationAck[] acks;
            try
            {
                // Not abandoned before it ends (the next call must not overtake it), except when
                // the sender is disposed: a hung standby must not hold the map loop that disposes it.
                acks = await AnswerOfAsync(_service.ReplicateAsync(_primary, records), token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested)
            {
                Fail(records.Length, ex);
                continue;
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _broken = false;
            foreach (var ack in acks)
            {
                if (_links.TryGetValue(ack.Partition, out var link))
                {
                    link.OnAck(ack);
                }
            }
        }
    }

    private async Task<ReplicationAck[]> AnswerOfAsync(Task<ReplicationAck[]> call, CancellationToken token)
    {
        if (!call.IsCompleted && _unansweredAfter != Timeout.InfiniteTimeSpan)
        {
            try
            {
                return await call.WaitAsync(_unansweredAfter, token).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!call.IsCompleted)
            {
                _onUnanswered();
            }
        }

        return await call.WaitAsync(token).ConfigureAwait(false);
    }

    private async Task ProbeAsync()
    {
        try
        {
            await _service.ReplicateAsync(_primary, []).WaitAsync(_stop.Token).ConfigureAwait(false);
            _broken = false;
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            LogProbeFailed(Standby, ex.Message);
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    // The records of the failed call (and any queued behind it) are lost: every link leaves the
    // in-sync set and is caught up from its partition's log once a call goes through again.
    private void Fail(int lost, Exception ex)
    {
        _broken = true;
        lock (_gate)
        {
            _queue.Clear();
            _queuedBytes = 0;
            _roomFreed.TrySetResult();
            _roomFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var reason = $"a replication call to its silo failed ({ex.GetType().Name}: {ex.Message})";
        LogCallFailed(Standby, lost, ex.Message, ex);
        foreach (var (_, link) in _links)
        {
            link.OnSenderBroken(reason);
        }

        if (IsUnavailable(ex))
        {
            _onUnavailable(reason);
        }
    }

    /// <summary>Whether the failure says the silo is gone or unreachable (not, say, a bug in a record).</summary>
    internal static bool IsUnavailable(Exception ex) => ex is SiloUnavailableException
        or OrleansMessageRejectionException
        or Orleans.Runtime.Messaging.ConnectionFailedException
        or TimeoutException
        or System.Net.Sockets.SocketException
        or IOException;

    [LoggerMessage(EventId = ReplicationLogEvents.SenderCallFailed, Level = LogLevel.Warning, Message = "A replication call to standby silo {Standby} failed ({Reason}); {Records} records were lost on the way and its partitions' links catch it up once it answers again.")]
    private partial void LogCallFailed(string standby, int records, string reason, Exception exception);

    [LoggerMessage(EventId = ReplicationLogEvents.SenderProbeFailed, Level = LogLevel.Debug, Message = "Standby silo {Standby} still does not answer replication calls: {Reason}")]
    private partial void LogProbeFailed(string standby, string reason);
}
