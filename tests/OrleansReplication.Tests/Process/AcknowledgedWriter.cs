using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>
/// A client load for failover tests: workers write unique values to many keys over HTTP at
/// <c>safety=applied</c> (following 307 redirects to the partition's primary), through the entry
/// silos they are given (a load balancer's view: the test takes a silo out before it stops it),
/// and record every acknowledged (key, version, value) and every failed request.
/// </summary>
internal sealed class AcknowledgedWriter : IAsyncDisposable
{
    public const string Component = "failover";

    private readonly int _keys;
    private readonly int _partitions;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 20, PooledConnectionLifetime = TimeSpan.FromSeconds(30) }) { Timeout = TimeSpan.FromSeconds(20) };
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _workers = [];
    private readonly ConcurrentQueue<string> _failures = new();
    private volatile Uri[] _entries;
    private long _nextValue;
    private long _failed;

    public AcknowledgedWriter(IEnumerable<SiloProcess> entries, int keys, int partitions)
    {
        _entries = [.. entries.Select(Base)];
        _keys = keys;
        _partitions = partitions;
    }

    /// <summary>Every acknowledged write, in acknowledgement order per worker.</summary>
    public ConcurrentQueue<(string Key, long Version, long Value, long AckedAt)> Acks { get; } = new();

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The first failures, for an assertion message.</summary>
    public string FailureSample => string.Join(Environment.NewLine, _failures.Take(10));

    /// <summary>Replaces the silos new requests enter through (a load balancer's endpoint list).</summary>
    public void SetEntries(IEnumerable<SiloProcess> entries) => _entries = [.. entries.Select(Base)];

    public void Start(int workers)
    {
        for (var w = 0; w < workers; w++)
        {
            var worker = w;
            _workers.Add(Task.Run(() => WorkAsync(worker, workers)));
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }

    /// <summary>The partition of a key (as the silos compute it).</summary>
    public int PartitionOf(string key) => PartitionHasher.GetPartition(Component, key, _partitions);

    /// <summary>Waits until every partition has an acknowledged write after <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public Task WaitForAcksOnEveryPartitionAsync(long since, TimeSpan deadline, string what) => Wait.UntilAsync(
        () => Acks.Where(a => a.AckedAt > since).Select(a => PartitionOf(a.Key)).Distinct().Count() == _partitions,
        deadline,
        what);

    /// <summary>
    /// Reads every acknowledged key back through <paramref name="reader"/> and returns the writes
    /// lost: acknowledged at version v, but the key is missing or below v.
    /// </summary>
    public async Task<List<string>> FindLostAsync(SiloProcess reader)
    {
        var highest = new Dictionary<string, (long Version, long Value)>();
        foreach (var (key, version, value, _) in Acks)
        {
            if (!highest.TryGetValue(key, out var seen) || version > seen.Version)
            {
                highest[key] = (version, value);
            }
        }

        var lost = new List<string>();
        foreach (var (key, acked) in highest)
        {
            using var get = await _http.GetAsync(new Uri(Base(reader), $"v1/components/{Component}/items/{key}"));
            if (get.StatusCode == HttpStatusCode.NotFound)
            {
                lost.Add($"{key}: acknowledged at version {acked.Version} (value {acked.Value}) but missing");
                continue;
            }

            get.EnsureSuccessStatusCode();
            var version = long.Parse(get.Headers.ETag!.Tag.Trim('"'), System.Globalization.CultureInfo.InvariantCulture);
            var value = JsonDocument.Parse(await get.Content.ReadAsStringAsync()).RootElement.GetProperty("v").GetInt64();
            if (version < acked.Version || (version == acked.Version && value != acked.Value))
            {
                lost.Add($"{key}: acknowledged at version {acked.Version} (value {acked.Value}) but reads version {version} (value {value})");
            }
        }

        return lost;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private static Uri Base(SiloProcess silo) => new($"http://127.0.0.1:{silo.HttpPort}/");

    private async Task WorkAsync(int worker, int workers)
    {
        var token = _stop.Token;
        for (var n = worker; !token.IsCancellationRequested; n += workers)
        {
            var key = "k" + (n % _keys);
            var value = Interlocked.Increment(ref _nextValue);
            var entries = _entries;
            var entry = entries[(int)(value % entries.Length)];
            try
            {
                using var content = new StringContent($"{{\"v\":{value}}}", Encoding.UTF8, "application/json");
                using var put = await _http.PutAsync(new Uri(entry, $"v1/components/{Component}/items/{key}?safety=applied"), content, token);
                var body = await put.Content.ReadAsStringAsync(token);
                if (put.IsSuccessStatusCode)
                {
                    var version = JsonDocument.Parse(body).RootElement.GetProperty("version").GetInt64();
                    Acks.Enqueue((key, version, value, Stopwatch.GetTimestamp()));
                }
                else
                {
                    Fail($"PUT {key} via {entry} answered {(int)put.StatusCode}: {body}");
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                Fail($"PUT {key} via {entry} failed: {ex.GetType().Name}: {ex.Message}");
                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    private void Fail(string message)
    {
        Interlocked.Increment(ref _failed);
        if (_failures.Count < 50)
        {
            _failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {message}");
        }
    }
}
