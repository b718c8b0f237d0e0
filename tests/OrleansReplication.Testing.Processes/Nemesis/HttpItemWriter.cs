using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>
/// One write over plain HTTP, as a newcomer's client makes it: <c>PUT</c> with a fresh
/// <c>Idempotency-Key</c>, resent with the same key to the next silo when a silo does not answer
/// or answers <c>503</c>, until <see cref="Budget"/> runs out. The silos' HTTP ports stay the same
/// across restarts (same instance), so the list is fixed for a run.
/// </summary>
/// <param name="silos">Every silo's HTTP base address.</param>
/// <param name="component">The component written.</param>
/// <param name="safety">The safety level asked of every write.</param>
/// <param name="firstSilo">Where it starts (the writer's number), so HTTP writers spread over the silos.</param>
internal sealed class HttpItemWriter(IReadOnlyList<Uri> silos, string component, SafetyLevel safety, int firstSilo) : IDisposable
{
    /// <summary>How long one write is resent before its outcome counts as unknown (the .NET client's request timeout).</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);

    // Longer than DurableWriteTimeout (3 s), so a Durable write waiting for a store that is down is
    // answered 503 rather than abandoned; short enough that a frozen silo costs one attempt.
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(5);

    // No redirects: any silo must answer for every item (a 307 would be a finding).
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = Timeout.InfiniteTimeSpan };
    private readonly string _safety = safety.ToString().ToLowerInvariant();
    private int _silo = firstSilo % silos.Count;

    /// <summary>
    /// Writes <paramref name="value"/> (a JSON string) to <paramref name="key"/>: the version it was
    /// acknowledged at; null when its outcome is unknown (every attempt failed or timed out, or
    /// <paramref name="stop"/> ended it). Throws <see cref="UnexpectedHttpAnswerException"/> for an
    /// answer no correct silo gives to this request (a 4xx, a redirect, a 500).
    /// </summary>
    public async Task<long?> PutAsync(string key, string value, string idempotencyKey, CancellationToken stop)
    {
        var body = JsonSerializer.Serialize(value);
        var until = Stopwatch.GetTimestamp() + (long)(Budget.TotalSeconds * Stopwatch.Frequency);
        while (!stop.IsCancellationRequested && Stopwatch.GetTimestamp() < until)
        {
            var silo = silos[_silo];
            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(silo, $"v1/components/{component}/items/{Uri.EscapeDataString(key)}?safety={_safety}"))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", idempotencyKey);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
            attempt.CancelAfter(AttemptTimeout);
            try
            {
                using var response = await _http.SendAsync(request, attempt.Token);
                if (response.IsSuccessStatusCode)
                {
                    return VersionOf(response);
                }

                if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                {
                    throw new UnexpectedHttpAnswerException($"PUT {request.RequestUri} (Idempotency-Key {idempotencyKey}) answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or SocketException or OperationCanceledException)
            {
                // Not answered (killed, frozen, restarting, stopped by the run): it may have been
                // applied; the same key sent again, to the next silo, says which.
            }

            _silo = (_silo + 1) % silos.Count;
            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }

        return null;
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private static long VersionOf(HttpResponseMessage response)
    {
        var tag = response.Headers.ETag?.Tag ?? throw new UnexpectedHttpAnswerException($"{(int)response.StatusCode} for {response.RequestMessage?.RequestUri} without an ETag.");
        return long.Parse(tag.Trim('"'), NumberStyles.None, CultureInfo.InvariantCulture);
    }
}

/// <summary>An HTTP answer that no correct silo gives to a well-formed write: the run reports it as a violation.</summary>
public sealed class UnexpectedHttpAnswerException(string message) : Exception(message);
