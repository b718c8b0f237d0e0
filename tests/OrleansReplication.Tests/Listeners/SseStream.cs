using System.Text;
using System.Text.Json;

namespace OrleansReplication.Tests.Listeners;

/// <summary>One Server-Sent Event as a test reads it.</summary>
public sealed record SseEvent(string Type, string? Id, JsonElement Data);

/// <summary>A minimal SSE reader over a watch response, for tests: one event at a time, with a deadline per read.</summary>
public sealed class SseStream : IAsyncDisposable
{
    private static readonly TimeSpan ReadDeadline = TimeSpan.FromSeconds(30);

    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    /// <summary>Opens <paramref name="url"/>; the response must be 200 text/event-stream.</summary>
    public static async Task<SseStream> OpenAsync(HttpClient http, string url, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode || response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            var body = await response.Content.ReadAsStringAsync();
            response.Dispose();
            throw new InvalidOperationException($"The watch answered {(int)response.StatusCode}: {body}");
        }

        var stream = await response.Content.ReadAsStreamAsync();
        return new SseStream(response, new StreamReader(stream, Encoding.UTF8));
    }

    /// <summary>The next event (heartbeats skipped); <see langword="null"/> when the stream ends.</summary>
    public async Task<SseEvent?> ReadAsync()
    {
        using var deadline = new CancellationTokenSource(ReadDeadline);
        string? type = null;
        string? id = null;
        var data = new StringBuilder();
        while (true)
        {
            string? line;
            try
            {
                line = await _reader.ReadLineAsync(deadline.Token);
            }
            catch (OperationCanceledException ex)
            {
                throw new TimeoutException($"Timed out after {ReadDeadline.TotalSeconds:0} s waiting for the next server-sent event.", ex);
            }

            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (type is not null || data.Length > 0)
                {
                    return new SseEvent(type ?? "message", id, JsonDocument.Parse(data.ToString()).RootElement.Clone());
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "event":
                    type = value;
                    break;
                case "id":
                    id = value;
                    break;
                case "data":
                    data.Append(data.Length > 0 ? "\n" : string.Empty).Append(value);
                    break;
            }
        }
    }

    /// <summary>Disconnects.</summary>
    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
