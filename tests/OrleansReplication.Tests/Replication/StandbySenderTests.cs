using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Replication;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Replication;

/// <summary>
/// Replication to another silo as the primary sees it: partitions' <see cref="NetworkReplicaLink"/>s
/// share one <see cref="StandbySender"/>, whose calls go to a fake replica service that applies
/// them on a real <see cref="StandbyHost"/> (what the silo's grain service does), and can hold or fail them.
/// </summary>
public sealed class StandbySenderTests : ReplicationHarness
{
    private readonly StandbyHost _host = new(NullLogger<StandbyHost>.Instance);
    private readonly List<string> _suspicions = [];
    private int _unanswered;

    [Fact]
    public async Task Send_CallUnanswered_StandbysSiloPortCheckedOnce_TheCallStillAwaited()
    {
        // Orleans does not fail a call sent over a connection that closed: after a while unanswered,
        // the standby's silo port is checked (refused = the process is gone); the call is not abandoned.
        var service = new FakeReplicaService(_host);
        await using var sender = NewSender(service);
        var (p0, l0, _, _) = await StartTwoPartitionsAsync(sender);

        service.Hold();
        await WriteAsync(p0, SafetyLevel.Local, Set("slow", "1"));
        await Wait.UntilAsync(() => Volatile.Read(ref _unanswered) == 1, Deadline, "the unanswered call to be reported");
        service.Release();

        await Wait.UntilAsync(() => l0.AppliedSequence == p0.LastSequence, Deadline, "the slow call's ack");
        Assert.Equal(1, Volatile.Read(ref _unanswered));
        Assert.Empty(_suspicions);
        Assert.True(l0.InSync);
    }

    [Fact]
    public async Task Send_CallInFlight_LaterRecordsOfEveryPartitionGoInOneCallInOrder()
    {
        var service = new FakeReplicaService(_host);
        await using var sender = NewSender(service);
        var (p0, l0, p1, l1) = await StartTwoPartitionsAsync(sender);

        service.Hold();
        var calls = service.CallCount;
        await WriteAsync(p0, SafetyLevel.Local, Set("first", "1"));
        await Wait.UntilAsync(() => service.CallCount == calls + 1, Deadline, "the first write's call to be in flight");
        for (var i = 0; i < 10; i++)
        {
            await WriteAsync(i % 2 == 0 ? p0 : p1, SafetyLevel.Local, Set($"k{i}", $"{i}"));
        }

        Assert.Equal(calls + 1, service.CallCount);
        service.Release();

        await Wait.UntilAsync(() => l0.AppliedSequence == p0.LastSequence && l1.AppliedSequence == p1.LastSequence, Deadline, "both links to be acked up to their partitions' last sequence");
        var coalesced = service.Calls[calls + 1];
        Assert.Equal(10, coalesced.Sum(r => r.Batch!.Changes.Count));
        Assert.Equal([0, 1], coalesced.Select(r => r.Batch!.Partition).Distinct().Order());
        foreach (var partition in new[] { 0, 1 })
        {
            var sequences = coalesced.Where(r => r.Batch!.Partition == partition).SelectMany(r => r.Batch!.Changes).Select(c => c.Sequence).ToList();
            Assert.Equal(sequences.Order(), sequences);
        }

        Assert.Equal(1, service.MaxInFlight);
        Assert.True(l0.InSync && l1.InSync);
        await AssertStandbyMatchesAsync(p0, _host.Find(0)!);
        await AssertStandbyMatchesAsync(p1, _host.Find(1)!);
    }

    [Fact]
    public async Task Send_AppliedWrites_CompleteOnTheAcksTheCallsAnswer()
    {
        var service = new FakeReplicaService(_host);
        await using var sender = NewSender(service);
        var partition = await StartPartitionAsync();
        var link = await AddLinkAsync(partition, sender);
        Store.Close();

        // The store holds every flush: an Applied write completes only through the standby's ack.
        var writes = Enumerable.Range(0, 50).Select(i => WriteAsync(partition, SafetyLevel.Applied, Set($"k{i}", $"{i}"))).ToArray();
        await Wait.ForAsync(Task.WhenAll(writes), Deadline, "50 Applied writes acknowledged by the standby");

        Assert.True(link.InSync);
        Assert.Equal(1, service.MaxInFlight);
        Assert.Equal(partition.LastSequence, link.AppliedSequence);
        await AssertStandbyMatchesAsync(partition, _host.Find(partition.Id)!);
        Store.Open();
    }

    [Fact]
    public async Task Send_CallFails_LinksLeaveInSyncStandbySuspectedAndCaughtUpOnceItAnswers()
    {
        var service = new FakeReplicaService(_host);
        await using var sender = NewSender(service);
        var (p0, l0, p1, l1) = await StartTwoPartitionsAsync(sender);

        service.FailWith = new SiloUnavailableException("the standby's silo is gone");
        await WriteAsync(p0, SafetyLevel.Local, Set("lost", "1"));
        await Wait.UntilAsync(() => !l0.InSync && !l1.InSync, Deadline, "both links to leave the in-sync set after the failed call");
        Assert.True(sender.Broken);

        // The links leave the in-sync set first, then the standby's silo is suspected.
        await Wait.UntilAsync(() => { lock (_suspicions) { return _suspicions.Count > 0; } }, Deadline, "the standby's silo to be suspected after the failed call");

        // Writes go on without the standby meanwhile.
        await WriteAsync(p1, SafetyLevel.Local, Set("meanwhile", "1"));
        Assert.False(l1.InSync);

        service.FailWith = null;
        await Wait.UntilAsync(() => l0.InSync && l1.InSync, Deadline, "both links to be caught up and in sync once the standby answers");
        await AssertStandbyMatchesAsync(p0, _host.Find(0)!);
        await AssertStandbyMatchesAsync(p1, _host.Find(1)!);
    }

    [Fact]
    public async Task Send_StandbySlow_QueueFull_LinkOutOfSyncWritesGoOnAndItCatchesUpLater()
    {
        var service = new FakeReplicaService(_host);
        var options = new ReplicationOptions { LinkQueueBytes = 1, MaxAckDelay = Timeout.InfiniteTimeSpan };
        await using var sender = NewSender(service, options);
        var partition = await StartPartitionAsync(options);
        var link = await AddLinkAsync(partition, sender, options);

        // One call in flight, one record queued behind it: the next live batch does not fit.
        service.Hold();
        await WriteAsync(partition, SafetyLevel.Local, Set("a", "1"));
        await Wait.UntilAsync(() => service.InFlight == 1, Deadline, "the first call to be in flight");
        await WriteAsync(partition, SafetyLevel.Local, Set("b", "1"));
        Assert.Equal(1, sender.QueuedRecords);
        await WriteAsync(partition, SafetyLevel.Local, Set("c", "1"));

        Assert.False(link.InSync, "a standby whose queue overflowed is still counted as in sync");
        Assert.Equal(1, sender.QueuedRecords);

        service.Release();
        await Wait.UntilAsync(() => link.InSync, Deadline, "the slow standby to be caught up and in sync again");
        await AssertStandbyMatchesAsync(partition, _host.Find(partition.Id)!);
        Assert.Equal(1, service.MaxInFlight);
    }

    [Fact]
    public async Task Send_StandbyLeadsThePartitionAtAHigherEpoch_DeposedPrimaryGetsNothingApplied()
    {
        var service = new FakeReplicaService(_host);
        await using var sender = NewSender(service);
        var partition = await StartPartitionAsync();
        await WriteAsync(partition, SafetyLevel.Local, Set("a", "1"));

        // The standby's silo took the partition over at a higher epoch: this primary was deposed.
        _host.Remove(partition.Id, partition.Epoch + 1);
        var link = await AddLinkAsync(partition, sender, waitInSync: false);

        await Wait.UntilAsync(() => link.State == ReplicaLinkState.Deposed, Deadline, "the link to learn that its primary was deposed");
        Assert.False(link.InSync);
        Assert.Null(_host.Find(partition.Id));
    }

    [Fact]
    public void Apply_RecordsOfSeveralPartitionsInOneCall_AppliedInOrderOneAckPerPartition()
    {
        ReplicationMessage Batch(int partition, params long[] sequences) => new(
            new ReplicationBatch { Partition = partition, Epoch = 1, Changes = [.. sequences.Select(s => new ReplicatedChange { Component = Component, Id = $"i{s}", Sequence = s, Value = "1"u8.ToArray() })] },
            null,
            0);

        var acks = _host.Apply("primary", [Batch(0, 1, 2), Batch(1, 1), Batch(0, 3, 4), Batch(1, 2, 3)]);

        Assert.Equal(2, acks.Length);
        Assert.Equal((0, 4L, false), (acks[0].Partition, acks[0].AppliedSequence, acks[0].CatchUpRequested));
        Assert.Equal((1, 3L, false), (acks[1].Partition, acks[1].AppliedSequence, acks[1].CatchUpRequested));
        Assert.Equal(4, _host.Find(0)!.AppliedSequence);
        Assert.Equal(3, _host.Find(1)!.AppliedSequence);
    }

    [Fact]
    public void Apply_GapThenMore_TheCatchUpRequestIsNotCoveredByALaterAck()
    {
        ReplicationMessage Batch(params long[] sequences) => new(
            new ReplicationBatch { Partition = 0, Epoch = 1, Changes = [.. sequences.Select(s => new ReplicatedChange { Component = Component, Id = $"i{s}", Sequence = s, Value = "1"u8.ToArray() })] },
            null,
            0);

        var acks = _host.Apply("primary", [Batch(1), Batch(3), Batch(4)]);

        Assert.Contains(acks, a => a.CatchUpRequested && a.AppliedSequence == 1);
        Assert.Equal(1, _host.Find(0)!.AppliedSequence);
    }

    [Fact]
    public async Task Send_CallUnanswered_CheckOff_NothingReported()
    {
        var service = new FakeReplicaService(_host);
        await using var sender = NewSender(service, new ReplicationOptions { UnansweredCallCheckDelay = Timeout.InfiniteTimeSpan });
        var (p0, l0, _, _) = await StartTwoPartitionsAsync(sender);

        service.Hold();
        await WriteAsync(p0, SafetyLevel.Local, Set("slow", "1"));
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // three check delays; nothing may happen
        service.Release();

        await Wait.UntilAsync(() => l0.AppliedSequence == p0.LastSequence, Deadline, "the slow call's ack");
        Assert.Equal(0, Volatile.Read(ref _unanswered));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Validate_UnansweredCallCheckDelayNotPositive_NamesTheSetting(int milliseconds)
    {
        var result = new ReplicationOptionsValidator().Validate(null, new ReplicationOptions { UnansweredCallCheckDelay = TimeSpan.FromMilliseconds(milliseconds) });

        Assert.True(result.Failed);
        Assert.Contains("Replication:UnansweredCallCheckDelay", result.FailureMessage, StringComparison.Ordinal);
        Assert.False(new ReplicationOptionsValidator().Validate(null, new ReplicationOptions { UnansweredCallCheckDelay = Timeout.InfiniteTimeSpan }).Failed);
    }

    private StandbySender NewSender(IReplicaService service, ReplicationOptions? options = null) =>
        new(service, "standby@1", "primary@1", options ?? new ReplicationOptions(), reason =>
        {
            lock (_suspicions)
            {
                _suspicions.Add(reason);
            }
        }, () => Interlocked.Increment(ref _unanswered), NullLogger.Instance);

    private async Task<(Partition P0, NetworkReplicaLink L0, Partition P1, NetworkReplicaLink L1)> StartTwoPartitionsAsync(StandbySender sender)
    {
        var p0 = await StartPartitionAsync(id: 0);
        var p1 = await StartPartitionAsync(id: 1);
        return (p0, await AddLinkAsync(p0, sender), p1, await AddLinkAsync(p1, sender));
    }

    private static async Task<NetworkReplicaLink> AddLinkAsync(Partition partition, StandbySender sender, ReplicationOptions? options = null, bool waitInSync = true)
    {
        var link = new NetworkReplicaLink(sender, new SiloIncarnation("standby", 1), options ?? new ReplicationOptions(), NullLogger.Instance, TimeProvider.System);
        partition.AddLink(link);
        if (waitInSync)
        {
            await Wait.UntilAsync(() => link.InSync, Deadline, $"the link of partition {partition.Id} to be in sync");
        }

        return link;
    }

    /// <summary>The standby silo's replica service, in process: applies on a real <see cref="StandbyHost"/>; calls can be held or failed.</summary>
    private sealed class FakeReplicaService(StandbyHost host) : IReplicaService
    {
        private readonly Lock _gate = new();
        private readonly List<ReplicationMessage[]> _calls = [];
        private TaskCompletionSource? _held;
        private int _inFlight;
        private int _maxInFlight;

        public volatile Exception? FailWith;

        public int InFlight => Volatile.Read(ref _inFlight);

        public int MaxInFlight => Volatile.Read(ref _maxInFlight);

        public int CallCount
        {
            get
            {
                lock (_gate)
                {
                    return _calls.Count;
                }
            }
        }

        public List<ReplicationMessage[]> Calls
        {
            get
            {
                lock (_gate)
                {
                    return [.. _calls];
                }
            }
        }

        public void Hold()
        {
            lock (_gate)
            {
                _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public void Release()
        {
            TaskCompletionSource? held;
            lock (_gate)
            {
                held = _held;
                _held = null;
            }

            held?.TrySetResult();
        }

        public async Task<ReplicationAck[]> ReplicateAsync(string primary, ReplicationMessage[] records)
        {
            var inFlight = Interlocked.Increment(ref _inFlight);
            try
            {
                int max;
                while (inFlight > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, inFlight, max) != max)
                {
                }

                Task held;
                lock (_gate)
                {
                    _calls.Add(records);
                    held = _held?.Task ?? Task.CompletedTask;
                }

                await held;
                if (FailWith is { } failure)
                {
                    throw failure;
                }

                // Off the caller's stack, as a real call's answer is.
                await Task.Yield();
                return host.Apply(primary, records);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        public Task PingAsync() => Task.CompletedTask;

        public Task<Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata> DescribeAsync() => throw new NotSupportedException();

        public Task MapChangedAsync(string silo) => Task.CompletedTask;

        public Task<WriteResult[]> ApplyGrainStateAsync(int partition, string component, ItemWriteData[] writes, SafetyLevel safety, IdempotencyId? id) =>
            throw new NotSupportedException("The sender never forwards grain state writes.");

        public Task<JsonItem[]> GetGrainStateAsync(int partition, string component, ItemKey[] keys) =>
            throw new NotSupportedException("The sender never reads grain state.");
    }
}
