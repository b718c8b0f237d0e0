using System.Threading.Channels;

namespace OrleansReplication.Silo.Replication;

/// <summary>
/// An auto-reset signal for one waiting loop: <see cref="Set"/> from any thread wakes the next
/// <see cref="WaitAsync(CancellationToken)"/>; signals set while nobody waits merge into one.
/// Allocation-free on both sides (a channel of capacity one that drops extra writes).
/// </summary>
internal sealed class AsyncSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    /// <summary>Wakes the waiter (now, or at its next wait).</summary>
    public void Set() => _channel.Writer.TryWrite(true);

    /// <summary>Waits for the next signal.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        await _channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for the next signal or <paramref name="timeout"/>; returns whether it was signalled.</summary>
    public async ValueTask<bool> WaitAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (_channel.Reader.TryRead(out _))
        {
            return true;
        }

        if (timeout == Timeout.InfiniteTimeSpan)
        {
            await WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }

        // A timed-out wait must not stay registered on the channel: cancel it with the timeout.
        // Awaited without throwing: the persister times out here every few milliseconds, and an
        // exception per gather cost more than the gather saved.
        using var timer = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        Task waited = _channel.Reader.WaitToReadAsync(linked.Token).AsTask();
        await waited.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        cancellationToken.ThrowIfCancellationRequested();
        return _channel.Reader.TryRead(out _);
    }
}
