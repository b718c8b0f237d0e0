using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Http;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Listeners;

/// <summary>
/// Reads another silo's watch of some partitions (<c>?partitions=</c>, the internal fan-in filter)
/// as change-feed events: the same events its own listeners get, parsed back from SSE.
/// </summary>
internal static class RemoteWatch
{
    // Shared by every fan-in of this process: peers are few, connections are pooled per peer.
    // Redirects are not followed: a silo that does not serve a partition says so (503).
    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// The events; ends with <see cref="ReplicaUnavailableException"/> when the peer is unreachable,
    /// refuses (not serving a partition) or its stream ends; <see cref="CursorExpiredException"/>,
    /// <see cref="PartitionHistoryRestartedException"/> or <see cref="InvalidRequestException"/>
    /// when it refuses the cursor.
    /// </summary>
    public static async IAsyncEnumerable<ChangeFeedEvent> ReadAsync(string endpoint, string component, string prefix, string? cursor, int[] partitions, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (endpoint.Length == 0)
        {
            throw new ReplicaUnavailableException($"Partitions [{string.Join(",", partitions)}] have no live primary in the partition map right now.", TimeSpan.FromMilliseconds(250));
        }

        var query = new StringBuilder("?partitions=").AppendJoin(',', partitions);
        if (prefix.Length > 0)
        {
            query.Append("&prefix=").Append(Uri.EscapeDataString(prefix));
        }

        if (cursor is not null)
        {
            query.Append("&cursor=").Append(Uri.EscapeDataString(cursor));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, endpoint.TrimEnd('/') + "/v1/components/" + Uri.EscapeDataString(component) + "/watch" + query);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await SendAsync(request, endpoint, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var detail = $"The silo at {endpoint} refused the watch of partitions [{string.Join(",", partitions)}] with HTTP {(int)response.StatusCode}.";
            var problem = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw response.StatusCode switch
            {
                HttpStatusCode.Gone when problem.Contains(HttpProblems.HistoryRestartedType, StringComparison.Ordinal) => new PartitionHistoryRestartedException(partitions[0], -1, -1),
                HttpStatusCode.Gone => new CursorExpiredException(detail + " " + problem),
                HttpStatusCode.BadRequest => new InvalidRequestException(detail),
                _ => new ReplicaUnavailableException(detail, TimeSpan.FromMilliseconds(250)),
            };
        }

        using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        var broken = (Exception ex) => new ReplicaUnavailableException($"The watch stream from {endpoint} broke: {ex.Message}", TimeSpan.FromMilliseconds(250), ex);
        await foreach (var e in reader.ReadAllAsync(broken, cancellationToken).ConfigureAwait(false))
        {
            if (ToChange(e, component) is { } change)
            {
                yield return change;
            }
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new ReplicaUnavailableException($"The silo at {endpoint} is unreachable for a watch: {ex.Message}", TimeSpan.FromMilliseconds(250), ex);
        }
    }

    private static ChangeFeedEvent? ToChange(SseEvent e, string component)
    {
        var cursor = e.Id.Length == 0 ? null : e.Id;
        switch (e.Type)
        {
            case "set":
            case "remove":
                using (var document = JsonDocument.Parse(e.Data))
                {
                    var data = document.RootElement;
                    var address = new ItemAddress(component, data.TryGetProperty("partitionKey", out var pk) ? pk.GetString() ?? string.Empty : string.Empty, data.GetProperty("id").GetString()!);
                    var version = data.GetProperty("version").GetInt64();
                    var json = e.Type == "set" ? Encoding.UTF8.GetBytes(data.GetProperty("value").GetRawText()) : null;
                    return new ChangeFeedEvent(e.Type == "set" ? ChangeKind.Set : ChangeKind.Removed, address, version, json, cursor);
                }

            case "snapshot-end":
                return new ChangeFeedEvent(ChangeKind.SnapshotEnd, default, 0, null, cursor);
            case "error":
                using (var document = JsonDocument.Parse(e.Data))
                {
                    var detail = document.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
                    throw document.RootElement.TryGetProperty("type", out var t) && t.GetString() == "cursor-expired"
                        ? new CursorExpiredException(detail ?? "cursor expired")
                        : new ReplicaUnavailableException($"The peer's watch ended: {detail}", TimeSpan.FromMilliseconds(250));
                }

            default:
                return null;
        }
    }
}
