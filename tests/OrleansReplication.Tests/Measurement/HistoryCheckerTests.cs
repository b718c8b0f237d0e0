using OrleansReplication.Bench.Measurement.History;

namespace OrleansReplication.Tests.Measurement;

public sealed class HistoryCheckerTests
{
    private long _nextId;

    [Fact]
    public void SequentialWritesAndReads_AreLinearizable()
    {
        var history = new[]
        {
            Write("k", "a", 1, 0, 10),
            Read("k", "a", 1, 11, 20),
            Write("k", "b", 5, 21, 30),
            Read("k", "b", 5, 31, 40),
        };

        var report = HistoryChecker.Check(history);

        Assert.True(report.IsValid, report.ToString());
        Assert.Empty(report.UnknownKeys);
    }

    [Fact]
    public void ConcurrentWrites_ReadMaySeeEither()
    {
        // Writes a and b overlap; the system ordered b (version 2) after a (version 1), the read sees b.
        var history = new[]
        {
            Write("k", "a", 1, 0, 50, process: 1),
            Write("k", "b", 2, 10, 40, process: 2),
            Read("k", "b", 2, 60, 70, process: 3),
        };

        Assert.True(HistoryChecker.Check(history).IsValid);
    }

    [Fact]
    public void VersionOrderAgainstInvocationOrder_NeedsBacktrackingAndIsLinearizable()
    {
        // a is invoked first but got the higher version: the search must undo "a first" and try b.
        var history = new[]
        {
            Write("k", "a", 2, 0, 50, process: 1),
            Write("k", "b", 1, 10, 40, process: 2),
            Read("k", "a", 2, 60, 70, process: 3),
        };

        var report = HistoryChecker.Check(history);

        Assert.True(report.IsValid, report.ToString());
    }

    [Fact]
    public void StaleReadAfterAcknowledgedWrite_IsNotLinearizableAndALostWrite()
    {
        var history = new[]
        {
            Write("k", "a", 1, 0, 10),
            Write("k", "b", 2, 11, 20),
            Read("k", "a", 1, 30, 40),
        };

        var report = HistoryChecker.Check(history);

        Assert.Equal(["k"], report.NonLinearizableKeys);
        var lost = Assert.Single(report.LostWrites);
        Assert.Equal("b", lost.Write.Value);
        Assert.False(report.IsValid);
    }

    [Fact]
    public void ReadOfAbsentKeyAfterAcknowledgedWrite_IsALostWrite()
    {
        var history = new[]
        {
            Write("k", "a", 7, 0, 10),
            Read("k", null, 0, 20, 30),
        };

        var report = HistoryChecker.Check(history);

        Assert.Single(report.LostWrites);
        Assert.Equal(["k"], report.NonLinearizableKeys);
    }

    [Fact]
    public void ReadsGoingBackInTime_AreNotLinearizable()
    {
        // Two overlapping writes, then two sequential reads that disagree about their order.
        var history = new[]
        {
            Write("k", "a", 1, 0, 100, process: 1),
            Write("k", "b", 2, 0, 100, process: 2),
            Read("k", "b", 2, 110, 120, process: 3),
            Read("k", "a", 1, 130, 140, process: 3),
        };

        Assert.Equal(["k"], HistoryChecker.Check(history).NonLinearizableKeys);
    }

    [Fact]
    public void VersionGoingDown_IsNotLinearizable()
    {
        var history = new[]
        {
            Write("k", "a", 5, 0, 10),
            Write("k", "b", 3, 20, 30),
        };

        Assert.Equal(["k"], HistoryChecker.Check(history).NonLinearizableKeys);
    }

    [Fact]
    public void ReadOfValueNeverWritten_IsNotLinearizable()
    {
        var history = new[] { Read("k", "ghost", 1, 0, 10) };

        Assert.Equal(["k"], HistoryChecker.Check(history).NonLinearizableKeys);
    }

    [Fact]
    public void TimedOutWrite_MayTakeEffectLaterOrNever()
    {
        // The write of b timed out: a read may see it, with a version the client never learned...
        var seen = new[]
        {
            Write("k", "a", 1, 0, 10),
            Timeout("k", "b", 20),
            Read("k", "b", 4, 500, 510),
        };

        // ...or never see it.
        var unseen = new[]
        {
            Write("k", "a", 1, 0, 10),
            Timeout("k", "b", 20),
            Read("k", "a", 1, 500, 510),
        };

        Assert.True(HistoryChecker.Check(seen).IsValid);
        Assert.True(HistoryChecker.Check(unseen).IsValid);
    }

    [Fact]
    public void TimedOutWrite_CannotTakeEffectBeforeItsInvocation()
    {
        var history = new[]
        {
            Read("k", "b", 4, 0, 10),
            Timeout("k", "b", 20),
        };

        Assert.Equal(["k"], HistoryChecker.Check(history).NonLinearizableKeys);
    }

    [Fact]
    public void FailedWrite_HasNoEffect()
    {
        var failed = Write("k", "b", 0, 20, 30) with { Outcome = OperationOutcome.Fail };
        var history = new[]
        {
            Write("k", "a", 1, 0, 10),
            failed,
            Read("k", "b", 2, 40, 50),
        };

        Assert.Equal(["k"], HistoryChecker.Check(history).NonLinearizableKeys);
    }

    [Fact]
    public void WriteSeenAtTwoVersions_IsADuplicatedEffect()
    {
        // The write of a was acknowledged at version 1, then applied again (a blind retry) at version 3.
        var history = new[]
        {
            Write("k", "a", 1, 0, 10),
            Read("k", "a", 3, 20, 30),
        };

        var report = HistoryChecker.Check(history);

        var duplicate = Assert.Single(report.DuplicatedEffects);
        Assert.Equal("a", duplicate.Value);
        Assert.Equal([1L, 3L], duplicate.Versions);
    }

    [Fact]
    public void KeysAreCheckedIndependently()
    {
        var history = new[]
        {
            Write("good", "a", 1, 0, 10),
            Read("good", "a", 1, 20, 30),
            Write("bad", "x", 1, 0, 10),
            Read("bad", null, 0, 20, 30),
        };

        var report = HistoryChecker.Check(history);

        Assert.Equal(2, report.Keys);
        Assert.Equal(["bad"], report.NonLinearizableKeys);
    }

    [Fact]
    public void ManyConcurrentOperations_FinishWithinTheBudget()
    {
        // 12 processes write concurrently in overlapping rounds; the versions follow completion order.
        var history = new List<HistoryOperation>();
        long version = 0;
        for (var round = 0; round < 20; round++)
        {
            for (var p = 0; p < 12; p++)
            {
                history.Add(Write("k", $"r{round}p{p}", ++version, round * 100, (round * 100) + 150 + p, process: p));
            }
        }

        history.Add(Read("k", $"r19p11", version, 10_000, 10_010, process: 99));

        var report = HistoryChecker.Check(history);

        Assert.True(report.IsValid, report.ToString());
        Assert.Empty(report.UnknownKeys);
    }

    [Fact]
    public void Recorder_RecordsInvokeAndOutcomes()
    {
        var recorder = new HistoryRecorder();
        var write = recorder.Invoke(1, "k", OperationKind.Write, "a");
        var lost = recorder.Invoke(2, "k", OperationKind.Write, "b");
        recorder.Ok(write, 1);
        recorder.Timeout(lost);
        var read = recorder.Invoke(3, "k", OperationKind.Read);
        recorder.Ok(read, 1, "a");

        var history = recorder.Snapshot();

        Assert.Equal(3, history.Count);
        Assert.Equal(OperationOutcome.Timeout, history[1].Outcome);
        Assert.Equal(long.MaxValue, history[1].Completed);
        Assert.Equal("a", history[2].Value);
        Assert.True(HistoryChecker.Check(history).IsValid);
        Assert.Throws<InvalidOperationException>(() => recorder.Fail(write));
    }

    private HistoryOperation Write(string key, string value, long version, long invoked, long completed, int process = 0) =>
        new(_nextId++, process, key, OperationKind.Write, value, version, invoked, completed, OperationOutcome.Ok);

    private HistoryOperation Read(string key, string? value, long version, long invoked, long completed, int process = 0) =>
        new(_nextId++, process, key, OperationKind.Read, value, version, invoked, completed, OperationOutcome.Ok);

    private HistoryOperation Timeout(string key, string value, long invoked) =>
        new(_nextId++, 0, key, OperationKind.Write, value, 0, invoked, long.MaxValue, OperationOutcome.Timeout);
}
