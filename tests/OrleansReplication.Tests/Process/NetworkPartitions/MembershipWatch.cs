using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Tests.Processes.NetworkPartitions;

/// <summary>
/// Polls every watched silo's membership view (<c>GET /v1/cluster/silos</c>) in the background and
/// keeps, per silo id, when any silo first saw it dead and who: what a partition test asserts on
/// (which silos were declared dead) and reports (how long detection took).
/// </summary>
internal sealed class MembershipWatch : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, (string Observer, long At)> _dead = new();
    private readonly List<SiloProcess> _observers;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _polling;

    private MembershipWatch(IEnumerable<SiloProcess> silos)
    {
        _observers = [.. silos];
        _polling = Task.Run(PollAsync);
    }

    public static MembershipWatch Start(IEnumerable<SiloProcess> silos) => new(silos);

    /// <summary>Watches <paramref name="silo"/>'s view too (a restarted silo).</summary>
    public void Add(SiloProcess silo)
    {
        lock (_observers)
        {
            _observers.Add(silo);
        }
    }

    /// <summary>Whether any watched silo has seen <paramref name="silo"/> dead.</summary>
    public bool IsDead(string silo) => _dead.ContainsKey(silo);

    /// <summary>The silos seen dead, each with who saw it first and when (a <see cref="Stopwatch"/> timestamp).</summary>
    public IReadOnlyDictionary<string, (string Observer, long At)> Dead => _dead;

    /// <summary>What was seen dead, for a report: "id (by observer, N ms after <paramref name="since"/>)".</summary>
    public string Describe(long since) => _dead.IsEmpty
        ? "none"
        : string.Join(", ", _dead.Select(d => $"{d.Key} (by {d.Value.Observer}, {Stopwatch.GetElapsedTime(since, d.Value.At).TotalMilliseconds:0} ms)"));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _polling;
        _stop.Dispose();
    }

    private async Task PollAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            List<SiloProcess> observers;
            lock (_observers)
            {
                observers = [.. _observers.Where(o => !o.HasExited)];
            }

            await Task.WhenAll(observers.Select(PollOneAsync));
            try
            {
                await Task.Delay(Interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PollOneAsync(SiloProcess observer)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(RequestTimeout);
            var view = await observer.Http.GetFromJsonAsync<JsonElement>("v1/cluster/silos", timeout.Token);
            var now = Stopwatch.GetTimestamp();
            foreach (var silo in view.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("status").GetString() == "dead"))
            {
                _dead.TryAdd(silo.GetProperty("id").GetString()!, (observer.SiloId, now));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or ObjectDisposedException)
        {
            // Not answering now (exited, disposed, stopping): the others' views still count.
        }
    }
}
