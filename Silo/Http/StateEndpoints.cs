using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OrleansReplication.Grains.State;
using OrleansReplication.Silo.Api;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Silo.Http;

/// <summary>
/// The HTTP JSON API of the State Replicator: items under <c>/v1/components/{component}</c>. Every
/// operation goes through the partition grains, which Orleans routes to each partition's primary,
/// so any silo serves every item (no redirects).
/// </summary>
internal static class StateEndpoints
{
    public static void MapStateEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/components/{component}");
        group.MapPut("/items/{*id}", PutAsync);
        group.MapGet("/items/{*id}", GetAsync);
        group.MapDelete("/items/{*id}", DeleteAsync);
        group.MapGet("/items", ListAsync);
        group.MapPost("/batch", BatchAsync);
    }

    private static async Task<IResult> PutAsync(string component, string? id, string? pk, string? safety, HttpRequest request, ItemCalls items, IOptions<SiloOptions> options, CancellationToken cancellationToken)
    {
        try
        {
            var key = ValidKey(component, HttpJson.ItemId(request, id), pk);
            var condition = HttpJson.ParseCondition(request);
            var level = HttpJson.ParseSafety(safety);
            var idempotencyKey = HttpJson.ParseIdempotencyKey(request);
            var body = await HttpJson.ReadBodyAsync(request, options.Value.MaxItemBytes, "item", cancellationToken).ConfigureAwait(false);
            var write = new ItemWriteData(key, body, condition);
            RequestValidator.Write(write, options.Value.MaxItemBytes);
            var requestId = items.IdFor(idempotencyKey, "PUT", component, key, condition, safety, body);
            var result = (await items.Calls.ApplyAsync(component, [write], level, requestId, cancellationToken).ConfigureAwait(false))[0];
            request.HttpContext.Response.Headers.ETag = ETags.Of(result.Version);
            var payload = HttpJson.ResultObject(result);
            return result.Created ? Results.Created((string?)null, payload) : Results.Ok(payload);
        }
        catch (Exception ex)
        {
            return HttpProblems.From(ex, request.HttpContext);
        }
    }

    private static async Task<IResult> GetAsync(string component, string? id, string? pk, HttpRequest request, ItemCalls items, CancellationToken cancellationToken)
    {
        try
        {
            var key = ValidKey(component, HttpJson.ItemId(request, id), pk);
            var found = await items.Calls.GetAsync(component, [key], cancellationToken).ConfigureAwait(false);
            if (found.Count == 0)
            {
                return HttpProblems.NotFound(component, key);
            }

            var etag = ETags.Of(found[0].Version);
            request.HttpContext.Response.Headers.ETag = etag;
            return request.Headers.IfNoneMatch.ToString() == etag
                ? Results.StatusCode(StatusCodes.Status304NotModified)
                : Results.Bytes(found[0].Json, "application/json");
        }
        catch (Exception ex)
        {
            return HttpProblems.From(ex, request.HttpContext);
        }
    }

    private static async Task<IResult> DeleteAsync(string component, string? id, string? pk, string? safety, HttpRequest request, ItemCalls items, CancellationToken cancellationToken)
    {
        try
        {
            var key = ValidKey(component, HttpJson.ItemId(request, id), pk);
            var condition = HttpJson.ParseCondition(request);
            var write = new ItemWriteData(key, null, condition);
            var level = HttpJson.ParseSafety(safety);
            var requestId = items.IdFor(HttpJson.ParseIdempotencyKey(request), "DELETE", component, key, condition, safety, []);
            var result = (await items.Calls.ApplyAsync(component, [write], level, requestId, cancellationToken).ConfigureAwait(false))[0];
            return result.Changed ? Results.NoContent() : HttpProblems.NotFound(component, key);
        }
        catch (Exception ex)
        {
            return HttpProblems.From(ex, request.HttpContext);
        }
    }

    // limit is bound as text: an int? parameter makes `?limit=abc` a bodiless framework 400
    // instead of the problem+json every other bad input gets.
    private static async Task<IResult> ListAsync(string component, string? after, string? limit, HttpRequest request, ItemCalls items, IOptions<SiloOptions> options, CancellationToken cancellationToken)
    {
        try
        {
            RequestValidator.Component(component);
            var max = options.Value.MaxListLimit;
            var count = Math.Min(100, max);
            if (!string.IsNullOrEmpty(limit) && !int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count))
            {
                throw new InvalidRequestException($"limit must be an integer between 1 and {max}; got '{limit}'.");
            }

            // Every partition's first page after the cursor, from its primary, merged in listing order.
            var (page, next) = await items.Calls.ListAsync(component, after, RequestValidator.Limit(count, max), cancellationToken).ConfigureAwait(false);
            return new ItemPageResult(page, next);
        }
        catch (Exception ex)
        {
            return HttpProblems.From(ex, request.HttpContext);
        }
    }

    private static async Task<IResult> BatchAsync(string component, string? safety, HttpRequest request, ItemCalls items, IOptions<SiloOptions> options, CancellationToken cancellationToken)
    {
        try
        {
            RequestValidator.Component(component);
            var o = options.Value;
            var idempotencyKey = HttpJson.ParseIdempotencyKey(request);
            var body = await HttpJson.ReadBodyAsync(request, o.MaxFrameBytes, "batch", cancellationToken).ConfigureAwait(false);
            var (writes, bodySafety) = ParseBatch(body, o.MaxItemBytes);
            var level = HttpJson.ParseSafety(safety ?? bodySafety);
            var requestId = items.IdFor(idempotencyKey, "POST", component, default, default, safety ?? bodySafety, body);

            // Atomic per partition: each partition's part commits whole or not at all, concurrently.
            var results = await items.Calls.ApplyAsync(component, writes, level, requestId, cancellationToken).ConfigureAwait(false);
            return Results.Ok(new { results = results.Select(HttpJson.ResultObject) });
        }
        catch (Exception ex)
        {
            return HttpProblems.From(ex, request.HttpContext);
        }
    }

    /// <summary>
    /// <c>{"safety":"applied","changes":[{"id":"a","value":{...},"expectedVersion":3},{"id":"b","remove":true}]}</c>;
    /// <c>partitionKey</c> optional; <c>expectedVersion</c> 0 means "must not exist", absent means any.
    /// </summary>
    private static (ItemWriteData[] Writes, string? Safety) ParseBatch(byte[] body, int maxItemBytes)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw new InvalidRequestException($"The batch body is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("changes", out var changes) || changes.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidRequestException("The batch body must be an object with a \"changes\" array.");
            }

            string? safety = root.TryGetProperty("safety", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            var writes = new ItemWriteData[changes.GetArrayLength()];
            var i = 0;
            foreach (var change in changes.EnumerateArray())
            {
                writes[i] = ParseChange(change, i, maxItemBytes);
                i++;
            }

            return (writes, safety);
        }
    }

    private static ItemWriteData ParseChange(JsonElement change, int index, int maxItemBytes)
    {
        if (change.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidRequestException($"changes[{index}] must be an object.");
        }

        var id = change.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
        var pk = change.TryGetProperty("partitionKey", out var pkElement) && pkElement.ValueKind == JsonValueKind.String ? pkElement.GetString() : null;
        var remove = change.TryGetProperty("remove", out var removeElement) && removeElement.ValueKind == JsonValueKind.True;
        var hasValue = change.TryGetProperty("value", out var value);
        if (remove == hasValue)
        {
            throw new InvalidRequestException($"changes[{index}] must have either \"value\" (set) or \"remove\": true.");
        }

        var expect = Expect.Any;
        if (change.TryGetProperty("expectedVersion", out var expected))
        {
            if (!expected.TryGetInt64(out var v) || v < 0)
            {
                throw new InvalidRequestException($"changes[{index}].expectedVersion must be 0 (must not exist) or a version.");
            }

            expect = v == 0 ? Expect.Absent : Expect.Version(v);
        }

        var key = new ItemKey(id!, pk);
        var write = new ItemWriteData(key, hasValue ? JsonMarshal.GetRawUtf8Value(value).ToArray() : null, expect);
        RequestValidator.Write(write, maxItemBytes);
        return write;
    }

    // The id is nullable because `items/` binds no id: the validator then answers a problem+json
    // 400 ("the item id is empty") instead of the framework's bodiless binding failure.
    private static ItemKey ValidKey(string component, string? id, string? pk)
    {
        RequestValidator.Component(component);
        var key = new ItemKey(id ?? string.Empty, string.IsNullOrEmpty(pk) ? null : pk);
        RequestValidator.Key(key);
        return key;
    }

}
