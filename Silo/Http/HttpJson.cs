using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Http;

/// <summary>Reading bounded bodies, parsing conditional headers, and shaping JSON results.</summary>
internal static class HttpJson
{
    /// <summary>The header that names a write for exactly-once retries.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    public static object ResultObject(WriteResult r) => new
    {
        id = r.Key.Id,
        partitionKey = r.Key.PartitionKey,
        version = r.Version,
        removed = r.Removed,
        changed = r.Changed,
        created = r.Created,
    };

    /// <summary>
    /// The item id exactly as the client encoded it. The router leaves <c>%2F</c> undecoded in a
    /// catch-all value, so <c>a%2Fb</c> and <c>a/b</c> would be different ids; decoding the raw
    /// request target once makes every encoding of the same id name the same item.
    /// </summary>
    public static string? ItemId(HttpRequest request, string? routeId)
    {
        const string Prefix = "/v1/components/";
        const string Items = "/items/";
        var raw = request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (raw is null || !raw.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return routeId;
        }

        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? raw : raw[..query];
        var slash = path.IndexOf('/', Prefix.Length);
        if (slash < 0 || string.CompareOrdinal(path, slash, Items, 0, Items.Length) != 0)
        {
            return routeId;
        }

        var encoded = path[(slash + Items.Length)..];
        return encoded.Length == 0 ? null : Uri.UnescapeDataString(encoded);
    }

    /// <summary>Reads the whole body, refusing (413) more than <paramref name="maxBytes"/> before buffering it.</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, int maxBytes, string what, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw new ItemTooLargeException($"The {what} is {request.ContentLength} bytes; the limit is {maxBytes} bytes.");
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length > maxBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw new ItemTooLargeException($"The {what} is over the limit of {maxBytes} bytes.");
            }

            if (result.IsCompleted)
            {
                var bytes = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return bytes;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The write condition from <c>If-Match</c> / <c>If-None-Match</c>; 400 when malformed.</summary>
    public static Expect ParseCondition(HttpRequest request)
    {
        var ifMatch = request.Headers.IfMatch.ToString();
        var ifNoneMatch = request.Headers.IfNoneMatch.ToString();
        if (ifMatch.Length > 0 && ifNoneMatch.Length > 0)
        {
            throw new InvalidRequestException("Give either If-Match or If-None-Match, not both.");
        }

        if (ifNoneMatch.Length > 0)
        {
            return ifNoneMatch.Trim() == "*"
                ? Expect.Absent
                : throw new InvalidRequestException($"If-None-Match on a write must be '*' (create only); got '{ifNoneMatch}'.");
        }

        if (ifMatch.Length == 0)
        {
            return Expect.Any;
        }

        if (ifMatch.Trim() == "*")
        {
            return Expect.Exists;
        }

        return TryParseETag(ifMatch, out var version)
            ? Expect.Version(version)
            : throw new InvalidRequestException($"If-Match must be one ETag such as \"42\" (as returned in ETag) or '*'; got '{ifMatch}'.");
    }

    /// <summary>
    /// The <c>Idempotency-Key</c> header of a write, or null without one (<see cref="ItemCalls.IdFor"/>
    /// makes it the write's idempotency id: client id <c>http:</c> + the key, so HTTP keys never meet a
    /// .NET client's ids, and the request's fingerprint as sequence).
    /// A key is 1 to <see cref="RequestKey.MaxClientIdLength"/> visible ASCII characters (a UUID fits); 400 otherwise.
    /// </summary>
    public static string? ParseIdempotencyKey(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(IdempotencyKeyHeader, out var values))
        {
            return null;
        }

        if (values.Count != 1)
        {
            throw new InvalidRequestException($"Give one {IdempotencyKeyHeader} header; got {values.Count}.");
        }

        var key = values[0] ?? string.Empty;
        if (key.Length is 0 or > RequestKey.MaxClientIdLength)
        {
            throw new InvalidRequestException($"{IdempotencyKeyHeader} must be 1 to {RequestKey.MaxClientIdLength} characters; got {key.Length}. Use a fresh UUID per write and the same one on its retries.");
        }

        foreach (var c in key)
        {
            if (c is < '!' or > '~')
            {
                throw new InvalidRequestException($"{IdempotencyKeyHeader} may hold only visible ASCII characters (no spaces or control characters); got U+{(int)c:X4}. Use a fresh UUID per write.");
            }
        }

        return key;
    }

    public static bool TryParseETag(string value, out long version)
    {
        version = 0;
        if (!EntityTagHeaderValue.TryParse(value.Trim(), out var tag) || tag.IsWeak)
        {
            return false;
        }

        var inner = tag.Tag.AsSpan().Trim('"');
        return long.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out version) && version > 0;
    }

    public static SafetyLevel ParseSafety(string? value) => value?.ToLowerInvariant() switch
    {
        null or "" => SafetyLevel.Default,
        "local" => SafetyLevel.Local,
        "received" => SafetyLevel.Received,
        "applied" => SafetyLevel.Applied,
        "durable" => SafetyLevel.Durable,
        _ => throw new InvalidRequestException($"safety '{value}' is unknown; use local, received, applied or durable."),
    };

    public static async Task WriteRawJsonAsync(HttpResponse response, byte[] json)
    {
        response.ContentType = "application/json";
        response.ContentLength = json.Length;
        await response.BodyWriter.WriteAsync(json).ConfigureAwait(false);
    }
}
