using OrleansReplication.Client;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// <see cref="IStateReplicator{TItem}.WatchAsync"/> and <see cref="IStateListener{TItem}"/> through a
/// real client: a late joiner gets the snapshot then every change in per-key order; resumed from
/// its cursor it misses nothing and sees nothing twice.
/// </summary>
public sealed class WatchClientTests(SiloFixture fixture) : IClassFixture<SiloFixture>, IAsyncLifetime
{
    // 200 keys x 50 rounds: the 10,000 writes the late joiner arrives after.
    private const int Keys = 200;
    private const int InitialRounds = 50;
    private const int LaterRounds = 20;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private ReplicationClient _client = null!;

    public sealed record Tick(int N);

    public async Task InitializeAsync() =>
        _client = await ReplicationClient.ConnectAsync(new ReplicationClientOptions { Gateways = [fixture.Silo.GatewayEndPoint.ToString()] });

    public async Task DisposeAsync() => await _client.DisposeAsync();

    [Fact]
    public async Task WatchAsync_JoinAfter10000Writes_ReceivesSnapshotThenEveryLaterChangeInPerKeyOrder()
    {
        var ticks = _client.GetReplicator<Tick>("client-watch-late");
        await WriteRoundsAsync(ticks, 0, InitialRounds);
        var order = new PerKeyOrder();
        Task? writer = null;

        await Wait.ForAsync(ConsumeAsync(), Deadline, "the snapshot and every later change");
        await writer!;

        Assert.Equal(Keys, order.Count);
        Assert.True(order.LiveEvents > 0, "no live change was seen after the snapshot");

        async Task ConsumeAsync()
        {
            await foreach (var change in ticks.WatchAsync())
            {
                if (change.Kind == StateChangeKind.SnapshotEnd)
                {
                    Assert.NotNull(change.Cursor);
                    writer = WriteRoundsAsync(ticks, InitialRounds, LaterRounds);
                }
                else if (writer is null)
                {
                    order.Snapshot(change);
                }
                else
                {
                    order.Live(change);
                    if (order.AllReached(InitialRounds + LaterRounds - 1))
                    {
                        return;
                    }
                }
            }
        }
    }

    [Fact]
    public async Task WatchAsync_ResumeFromLastCursor_MissesNothingAndReceivesNothingTwice()
    {
        var ticks = _client.GetReplicator<Tick>("client-watch-resume");
        await WriteRoundsAsync(ticks, 0, InitialRounds);
        var order = new PerKeyOrder();
        var writer = WriteRoundsAsync(ticks, InitialRounds, LaterRounds);

        var cursor = await Wait.ForAsync(FirstAsync(), Deadline, "the snapshot and 500 live changes");
        await Wait.ForAsync(ResumeAsync(cursor), Deadline, "the rest of the changes after resuming");
        await writer;

        Assert.Equal(Keys, order.Count);

        async Task<string> FirstAsync()
        {
            string? last = null;
            var snapshotDone = false;
            await foreach (var change in ticks.WatchAsync())
            {
                if (change.Kind == StateChangeKind.SnapshotEnd)
                {
                    snapshotDone = true;
                }
                else if (!snapshotDone)
                {
                    order.Snapshot(change);
                    continue;
                }
                else
                {
                    order.Live(change);
                }

                last = change.Cursor;
                if (order.LiveEvents == 500)
                {
                    break; // disconnects
                }
            }

            return last!;
        }

        async Task ResumeAsync(string from)
        {
            await foreach (var change in ticks.WatchAsync(cursor: from))
            {
                order.Live(change);
                if (order.AllReached(InitialRounds + LaterRounds - 1))
                {
                    return;
                }
            }
        }
    }

    [Fact]
    public async Task ListenAsync_PrefixedListener_ReceivesOnlyMatchingSetsAndRemovals()
    {
        var ticks = _client.GetReplicator<Tick>("client-listen");
        await ticks.SetStateItemsAsync([KeyValuePair.Create(new ItemKey("a-1"), new Tick(1)), KeyValuePair.Create(new ItemKey("b-1"), new Tick(1))]);
        var listener = new RecordingListener();
        using var stop = new CancellationTokenSource();
        var listening = ticks.ListenAsync(listener, prefix: "a-", cancellationToken: stop.Token);

        await Wait.UntilAsync(() => listener.SnapshotCursor is not null, Deadline, "the end of the listener's snapshot");
        await ticks.SetStateItemsAsync([KeyValuePair.Create(new ItemKey("b-2"), new Tick(2)), KeyValuePair.Create(new ItemKey("a-2"), new Tick(2))]);
        await ticks.RemoveStateItemsAsync([new ItemKey("a-1")]);
        await Wait.UntilAsync(() => listener.Events.Count == 3, Deadline, "a-1 (snapshot), a-2 set and a-1 removed");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listening);

        Assert.Equal(["set a-1 1", "set a-2 2", "removed a-1"], listener.Events);
    }

    [Fact]
    public async Task WatchAsync_InvalidCursor_ThrowsInvalidRequest()
    {
        var ticks = _client.GetReplicator<Tick>("client-watch-bad");

        await Assert.ThrowsAsync<InvalidRequestException>(async () =>
        {
            await foreach (var change in ticks.WatchAsync(cursor: "AQE"))
            {
                _ = change;
            }
        });
    }

    private static async Task WriteRoundsAsync(IStateReplicator<Tick> ticks, int firstRound, int rounds)
    {
        for (var round = firstRound; round < firstRound + rounds; round++)
        {
            var n = round;
            await ticks.SetStateItemsAsync(Enumerable.Range(0, Keys).Select(k => KeyValuePair.Create(new ItemKey($"k{k:D3}"), new Tick(n))));
        }
    }

    private sealed class RecordingListener : IStateListener<Tick>
    {
        public List<string> Events { get; } = [];

        public string? SnapshotCursor { get; private set; }

        public Task StateSetAsync(ItemKey key, Tick value, long version, string? cursor, CancellationToken cancellationToken)
        {
            lock (Events)
            {
                Events.Add($"set {key.Id} {value.N}");
            }

            return Task.CompletedTask;
        }

        public Task StateRemovedAsync(ItemKey key, long version, string cursor, CancellationToken cancellationToken)
        {
            lock (Events)
            {
                Events.Add($"removed {key.Id}");
            }

            return Task.CompletedTask;
        }

        public Task SnapshotCompletedAsync(string cursor, CancellationToken cancellationToken)
        {
            SnapshotCursor = cursor;
            return Task.CompletedTask;
        }
    }

    /// <summary>Each key's round goes up by exactly one per live change: no gap, no repeat, in order.</summary>
    private sealed class PerKeyOrder
    {
        private readonly Dictionary<string, (long Version, int Round)> _last = [];

        public int Count => _last.Count;

        public int LiveEvents { get; private set; }

        public void Snapshot(StateChange<Tick> change)
        {
            Assert.Equal(StateChangeKind.Set, change.Kind);
            Assert.Null(change.Cursor);
            Assert.True(_last.TryAdd(change.Key.Id, (change.Version, change.Value!.N)), $"{change.Key.Id} appeared twice in the snapshot");
        }

        public void Live(StateChange<Tick> change)
        {
            Assert.Equal(StateChangeKind.Set, change.Kind);
            Assert.False(string.IsNullOrEmpty(change.Cursor), "a live change carried no cursor");
            var last = _last[change.Key.Id];
            Assert.True(change.Version > last.Version, $"{change.Key.Id}: version {change.Version} after {last.Version}");
            Assert.True(change.Value!.N == last.Round + 1, $"{change.Key.Id}: round {change.Value.N} after {last.Round} (a gap or a repeat)");
            _last[change.Key.Id] = (change.Version, change.Value.N);
            LiveEvents++;
        }

        public bool AllReached(int round) => _last.Count == Keys && _last.Values.All(v => v.Round == round);
    }
}
