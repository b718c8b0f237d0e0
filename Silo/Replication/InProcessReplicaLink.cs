using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// A replica link to a <see cref="StandbyReplica"/> in the same process, over a bounded channel:
/// the primary's batches queue there and a receive loop applies them in order and acknowledges
/// (one ack per drained run of records). Used by tests and by the in-process test cluster.
/// </summary>
/// <remarks>
/// The channel is the standby's queue, so a record is "received" once it is queued. Bounds:
/// <see cref="ReplicationOptions.LinkQueueRecords"/> records and, for live batches,
/// <see cref="ReplicationOptions.LinkQueueBytes"/> bytes; a live batch that does not fit marks
/// the link out of sync. Catch-up records wait for room instead; each is at most
/// <see cref="ReplicationOptions.CatchUpBatchBytes"/>, so the queue stays bounded either way.
/// </remarks>
internal sealed partial class InProcessReplicaLink : ReplicaLink
{
    // Acks are batched per drained run; past this many records the standby acks anyway, so a long
    // queue does not hold the primary's Applied writes until the whole queue is applied.
    private const int MaxRecordsPerAck = 64;

    private readonly Channel<ReplicationMessage> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;

    // Added by the commit loop and the worker, subtracted by the receive loop (Interlocked).
    private long _queuedBytes;

    // Set by Pause / Resume on any thread, awaited by the receive loop.
    private volatile TaskCompletionSource? _paused;
    private Task? _receiveLoop;

    public InProcessReplicaLink(StandbyReplica standby, string name, ReplicationOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
        : base(name, options, logger, timeProvider)
    {
        ArgumentNullException.ThrowIfNull(standby);
        Standby = standby;
        _logger = Logger;
        _queue = Channel.CreateBounded<ReplicationMessage>(new BoundedChannelOptions(options.LinkQueueRecords)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>The standby this link feeds.</summary>
    public StandbyReplica Standby { get; }

    /// <summary>Records queued and not yet taken by the standby.</summary>
    public int QueuedRecords => _queue.Reader.Count;

    /// <summary>Stops the standby from taking records (they stay queued, up to the bound) until <see cref="Resume"/>: a stalled standby.</summary>
    public void Pause() => Interlocked.CompareExchange(ref _paused, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Lets the standby take records again.</summary>
    public void Resume() => Interlocked.Exchange(ref _paused, null)?.TrySetResult();

    protected override (long AppliedSequence, long Epoch) GetStandbyPosition() => (Standby.AppliedSequence, Standby.Epoch);

    protected override bool TryEnqueue(in ReplicationMessage message)
    {
        if (_queue.Reader.Count > 0 && Interlocked.Read(ref _queuedBytes) + message.Bytes > Options.LinkQueueBytes)
        {
            return false;
        }

        Interlocked.Add(ref _queuedBytes, message.Bytes);
        if (_queue.Writer.TryWrite(message))
        {
            return true;
        }

        Interlocked.Add(ref _queuedBytes, -message.Bytes);
        return false;
    }

    protected override async ValueTask EnqueueAsync(ReplicationMessage message, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _queuedBytes, message.Bytes);
        try
        {
            await _queue.Writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Add(ref _queuedBytes, -message.Bytes);
            throw;
        }
    }

    protected override void OnAttached() => _receiveLoop = Task.Run(() => ReceiveAsync(_stop.Token), CancellationToken.None);

    protected override void OnEnqueued(long lastSequence) => AdvanceReceived(lastSequence);

    protected override async ValueTask DisposeTransportAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        Resume();
        if (_receiveLoop is not null)
        {
            await _receiveLoop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task ReceiveAsync(CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (_paused is { } paused)
                {
                    await paused.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var refused = false;
                var taken = 0;
                while (taken < MaxRecordsPerAck && _paused is null && reader.TryRead(out var message))
                {
                    taken++;
                    Interlocked.Add(ref _queuedBytes, -message.Bytes);
                    refused |= ApplyOne(message);
                }

                if (taken > 0)
                {
                    OnAck(Standby.CreateAck(refused));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>Applies one record; returns whether the standby refused it and needs catch-up.</summary>
    private bool ApplyOne(in ReplicationMessage message)
    {
        StandbyApplyResult result;
        try
        {
            result = message.Batch is not null ? Standby.Apply(message.Batch) : Standby.Install(message.Chunk!);
        }
        catch (Exception ex)
        {
            // A bug must not kill the standby's loop; nothing past its applied sequence counts,
            // and the primary catches it up again.
            LogApplyFailed(Standby.PartitionId, Name, Standby.AppliedSequence, ex);
            return true;
        }

        switch (result)
        {
            case StandbyApplyResult.Gap or StandbyApplyResult.NeedsSnapshot:
                LogRefused(Standby.PartitionId, Name, result, Standby.AppliedSequence, Standby.Epoch);
                return true;
            case StandbyApplyResult.StaleEpoch:
                LogRefused(Standby.PartitionId, Name, result, Standby.AppliedSequence, Standby.Epoch);
                return false;
            default:
                return false;
        }
    }

    [LoggerMessage(EventId = ReplicationLogEvents.StandbyRefused, Level = LogLevel.Information, Message = "Partition {Partition}: standby {Standby} refused a record ({Result}) at applied sequence {Applied}, epoch {Epoch}; nothing of it was applied.")]
    private partial void LogRefused(int partition, string standby, StandbyApplyResult result, long applied, long epoch);

    [LoggerMessage(EventId = ReplicationLogEvents.StandbyApplyFailed, Level = LogLevel.Error, Message = "Partition {Partition}: standby {Standby} failed to apply a record at applied sequence {Applied}; it asks to be caught up again.")]
    private partial void LogApplyFailed(int partition, string standby, long applied, Exception exception);
}
