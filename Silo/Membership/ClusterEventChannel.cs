using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace OrleansReplication.Silo.Membership;

/// <summary>
/// The cluster event channel: membership and the partition map publish here; operators follow it
/// in the log, and clients over SSE (<c>GET /v1/cluster/events</c>). Keeps the last
/// <see cref="RetainedEvents"/> so a new follower sees recent history first.
/// </summary>
internal sealed partial class ClusterEventChannel(TimeProvider time, ILogger<ClusterEventChannel> logger)
{
    public const int RetainedEvents = 256;

    // A follower that falls this far behind loses the oldest events (it is told by the gap in ids).
    private const int FollowerQueue = 1024;

    private readonly Lock _lock = new();
    private readonly Queue<ClusterEvent> _recent = new();
    private readonly List<Channel<ClusterEvent>> _followers = [];
    private readonly ILogger _logger = logger;
    private long _nextId;

    /// <summary>Records an event, logs it and hands it to every follower.</summary>
    public ClusterEvent Publish(string kind, string? silo, int? partition, long? epoch, string reason)
    {
        ClusterEvent e;
        lock (_lock)
        {
            e = new ClusterEvent(++_nextId, time.GetUtcNow(), kind, silo, partition, epoch, reason);
            _recent.Enqueue(e);
            if (_recent.Count > RetainedEvents)
            {
                _recent.Dequeue();
            }

            foreach (var follower in _followers)
            {
                follower.Writer.TryWrite(e);
            }
        }

        // A silo's events at Information; a partition's at Debug: a dead silo moves dozens at once,
        // and the partition map manager already said which in one line.
        if (partition is null or < 0)
        {
            LogEvent(kind, silo ?? "-", -1, epoch ?? 0, reason);
        }
        else
        {
            LogPartitionEvent(kind, silo ?? "-", partition.Value, epoch ?? 0, reason);
        }

        return e;
    }

    /// <summary>The retained events, then every later one until <paramref name="cancellationToken"/> fires.</summary>
    public async IAsyncEnumerable<ClusterEvent> FollowAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<ClusterEvent>(new BoundedChannelOptions(FollowerQueue) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        ClusterEvent[] recent;
        lock (_lock)
        {
            recent = [.. _recent];
            _followers.Add(channel);
        }

        try
        {
            foreach (var e in recent)
            {
                yield return e;
            }

            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
        finally
        {
            lock (_lock)
            {
                _followers.Remove(channel);
            }
        }
    }

    /// <summary>The retained events (diagnostics and tests).</summary>
    public IReadOnlyList<ClusterEvent> Recent
    {
        get
        {
            lock (_lock)
            {
                return [.. _recent];
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.ClusterEvent, Level = LogLevel.Information, Message = "Cluster event {Kind}: silo {Silo}, partition {Partition}, epoch {Epoch}: {Reason}")]
    private partial void LogEvent(string kind, string silo, int partition, long epoch, string reason);

    [LoggerMessage(EventId = LogEvents.ClusterEvent, Level = LogLevel.Debug, Message = "Cluster event {Kind}: silo {Silo}, partition {Partition}, epoch {Epoch}: {Reason}")]
    private partial void LogPartitionEvent(string kind, string silo, int partition, long epoch, string reason);
}
