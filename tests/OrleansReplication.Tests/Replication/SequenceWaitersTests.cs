using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Tests.Replication;

public sealed class SequenceWaitersTests
{
    [Fact]
    public void Advance_ToASequence_CompletesExactlyTheWaitersAtOrBelowIt()
    {
        var waiters = new SequenceWaiters(0);
        var w = Enumerable.Range(1, 5).Select(_ => new Waiter()).ToArray();
        for (var i = 0; i < w.Length; i++)
        {
            waiters.Add(i + 1, w[i]);
        }

        waiters.Advance(3);

        Assert.Equal([true, true, true, false, false], w.Select(x => x.Completed));
        Assert.Equal(2, waiters.Count);
    }

    [Fact]
    public void Advance_LowerWatermark_IsIgnored()
    {
        var waiters = new SequenceWaiters(0);
        waiters.Advance(10);
        waiters.Advance(4);

        Assert.Equal(10, waiters.Watermark);
        var late = new Waiter();
        waiters.Add(7, late);
        Assert.True(late.Completed);
    }

    [Fact]
    public void Add_AboveWatermark_WaitsUntilAdvanced()
    {
        var waiters = new SequenceWaiters(5);
        var w = new Waiter();
        waiters.Add(6, w);
        Assert.False(w.Completed);

        waiters.Advance(6);
        Assert.True(w.Completed);
    }

    [Fact]
    public void FailAll_FailsPendingAndLaterWaiters()
    {
        var waiters = new SequenceWaiters(0);
        var pending = new Waiter();
        waiters.Add(1, pending);

        waiters.FailAll(new InvalidOperationException("gone"));
        var later = new Waiter();
        waiters.Add(2, later);

        Assert.NotNull(pending.Error);
        Assert.NotNull(later.Error);
        Assert.False(pending.Completed);
    }

    private sealed class Waiter : ISequenceWaiter
    {
        public bool Completed { get; private set; }

        public Exception? Error { get; private set; }

        public void Complete() => Completed = true;

        public void Fail(Exception error) => Error = error;
    }
}
