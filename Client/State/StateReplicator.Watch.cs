using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// Watching a component: a silo's SSE endpoint (<c>/v1/components/{component}/watch</c>, which
/// covers every partition of the cluster) read over HTTP. When that silo goes away the watch
/// continues on another from the last cursor, within <see cref="ReplicationClientOptions.RequestTimeout"/>.
/// </summary>
internal sealed partial class StateReplicator<TItem>
{
    public async IAsyncEnumerable<StateChange<TItem>> WatchAsync(string? prefix = null, string? cursor = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var resumeFrom = string.IsNullOrEmpty(cursor) ? null : cursor;
        var delivered = false;
        Uri? watchedThrough = null;
        var brokenSince = default(DateTime?);
        while (true)
        {
            ReplicaUnavailableException? broken = null;
            var stream = WatchOnceAsync(prefix, resumeFrom, watchedThrough, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await stream.MoveNextAsync().ConfigureAwait(false))
                        {
                            yield break;
                        }
                    }
                    catch (ReplicaUnavailableException ex) when (resumeFrom is not null || !delivered)
                    {
                        // Resumable: from the last cursor, or from scratch when nothing was delivered yet.
                        broken = ex;
                        break;
                    }

                    var (change, endpoint) = stream.Current;
                    watchedThrough = endpoint;
                    brokenSince = null;
                    delivered = true;
                    if (change.Cursor is { } position)
                    {
                        resumeFrom = position;
                    }

                    yield return change;
                }
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            brokenSince ??= DateTime.UtcNow;
            if (DateTime.UtcNow - brokenSince > context.Options.RequestTimeout)
            {
                throw broken;
            }

            await Task.Delay(broken.RetryAfter > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(broken.RetryAfter.Ticks, context.Options.MaxReconnectDelay.Ticks)) : context.Options.MinReconnectDelay, cancellationToken).ConfigureAwait(false);
        }
    }

    // One stream from one silo (`avoid` last); each change comes with the silo endpoint it was read from.
    private async IAsyncEnumerable<(StateChange<TItem> Change, Uri Endpoint)> WatchOnceAsync(string? prefix, string? cursor, Uri? avoid, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var endpoint = await context.GetHttpEndpointAsync(avoid, cancellationToken).ConfigureAwait(false);
        var query = new List<string>(2);
        if (!string.IsNullOrEmpty(prefix))
        {
            query.Add("prefix=" + Uri.EscapeDataString(prefix));
        }

        if (!string.IsNullOrEmpty(cursor))
        {
            query.Add("cursor=" + Uri.EscapeDataString(cursor));
        }

        var uri = new Uri(endpoint, $"v1/components/{Uri.EscapeDataString(Component)}/watch" + (query.Count > 0 ? "?" + string.Join('&', query) : string.Empty));
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage response;
        try
        {
            response = await context.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw Broken(ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await ProblemAsync(response, cancellationToken).ConfigureAwait(false);
            }

            using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            await foreach (var e in reader.ReadAllAsync(Broken, cancellationToken).ConfigureAwait(false))
            {
                if (ToChange(e) is { } change)
                {
                    yield return (change, endpoint);
                }
            }

            throw Broken(null);
        }
    }

    private static ReplicaUnavailableException Broken(Exception? inner) => new(
        "The watch stream ended (silo stopping or connection lost); watch again from the last cursor to continue without a gap.",
        TimeSpan.FromSeconds(1),
        inner);

    private static async Task<Exception> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var detail = $"The watch was refused with HTTP {(int)response.StatusCode}.";
        try
        {
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            if (problem.RootElement.TryGetProperty("detail", out var d) && d.GetString() is { Length: > 0 } text)
            {
                detail = text;
            }
        }
        catch (JsonException)
        {
            // No problem body: the status says enough.
        }

        return response.StatusCode switch
        {
            HttpStatusCode.BadRequest => new InvalidRequestException(detail),
            HttpStatusCode.Gone => new CursorExpiredException(detail),
            _ => new ReplicaUnavailableException(detail, response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1)),
        };
    }

    private StateChange<TItem>? ToChange(SseEvent e)
    {
        using var document = JsonDocument.Parse(e.Data);
        var data = document.RootElement;
        var cursor = e.Id.Length == 0 ? null : e.Id;
        switch (e.Type)
        {
            case "set":
            case "remove":
                var key = new ItemKey(data.GetProperty("id").GetString()!, data.TryGetProperty("partitionKey", out var pk) ? pk.GetString() : null);
                var version = data.GetProperty("version").GetInt64();
                var catchUp = data.TryGetProperty("catchUp", out var c) && c.ValueKind == JsonValueKind.True;
                return e.Type == "set"
                    ? new StateChange<TItem>(StateChangeKind.Set, key, Read(key, version, () => data.GetProperty("value").Deserialize<TItem>(_json)), version, cursor) { CatchUp = catchUp }
                    : new StateChange<TItem>(StateChangeKind.Removed, key, default, version, cursor) { CatchUp = catchUp };
            case "snapshot-end":
                return new StateChange<TItem>(StateChangeKind.SnapshotEnd, default, default, 0, cursor);
            case "error":
                var detail = data.TryGetProperty("detail", out var d) ? d.GetString() ?? string.Empty : string.Empty;
                var type = data.TryGetProperty("type", out var t) ? t.GetString() : null;
                throw type == "cursor-expired"
                    ? new CursorExpiredException(detail)
                    : new ReplicaUnavailableException(detail + " Watch again from the last cursor.", TimeSpan.FromSeconds(1));
            default:
                return null; // an event type added later: ignore it
        }
    }
}
