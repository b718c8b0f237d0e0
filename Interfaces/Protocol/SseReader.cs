using System.Runtime.CompilerServices;
using System.Text;

namespace OrleansReplication.Protocol;

/// <summary>One Server-Sent Event: its type, its id (empty when it had none) and its data lines joined with "\n".</summary>
internal readonly record struct SseEvent(string Type, string Id, string Data);

/// <summary>Reads Server-Sent Events from a response stream (comments and heartbeats skipped; <c>retry:</c> ignored).</summary>
internal sealed class SseReader(Stream stream) : IDisposable
{
    // A line longer than this is not a watch event (items are bounded far below it): stop rather than buffer it.
    private const int MaxLineChars = 64 * 1024 * 1024;

    private readonly StreamReader _reader = new(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
    private readonly StringBuilder _data = new();

    /// <summary>The next event; <see langword="null"/> when the stream ends.</summary>
    public async ValueTask<SseEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        string? type = null;
        var id = string.Empty;
        _data.Clear();
        var hasData = false;
        while (await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length > MaxLineChars)
            {
                throw new ProtocolException($"A server-sent event line of {line.Length} characters is over the limit of {MaxLineChars}.");
            }

            if (line.Length == 0)
            {
                if (type is not null || hasData)
                {
                    return new SseEvent(type ?? "message", id, _data.ToString());
                }

                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line.AsSpan(colon + 1);
            if (value.Length > 0 && value[0] == ' ')
            {
                value = value[1..];
            }

            switch (field)
            {
                case "event":
                    type = value.ToString();
                    break;
                case "id":
                    id = value.ToString();
                    break;
                case "data":
                    if (hasData)
                    {
                        _data.Append('\n');
                    }

                    _data.Append(value);
                    hasData = true;
                    break;
            }
        }

        return null;
    }

    /// <summary>
    /// Every event until the stream ends. A stream that breaks (an I/O error, the connection lost)
    /// throws what <paramref name="broken"/> makes of the error, unless the caller cancelled.
    /// </summary>
    public async IAsyncEnumerable<SseEvent> ReadAllAsync(Func<Exception, Exception> broken, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            SseEvent? next;
            try
            {
                next = await ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                throw broken(ex);
            }

            if (next is not { } e)
            {
                yield break;
            }

            yield return e;
        }
    }

    public void Dispose() => _reader.Dispose();
}
