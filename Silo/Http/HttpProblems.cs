using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansReplication.Silo.Http;

/// <summary>Maps typed errors to <c>application/problem+json</c> responses with the right status.</summary>
internal static partial class HttpProblems
{
    private const string TypeBase = "https://github.com/orleans-replication/errors#";

    /// <summary>The problem type a cluster watch's fan-in recognizes (<see cref="Listeners.PartitionHistoryRestartedException"/>).</summary>
    public const string HistoryRestartedType = "history-restarted";

    /// <summary>The answer to a failed request; an error no case expects is logged with the request (the answer says it was).</summary>
    public static IResult From(Exception exception, HttpContext context)
    {
        // The caller went away: nothing to answer and nothing to report (its response is never read).
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            return Problem(StatusCodes.Status499ClientClosedRequest, "client-closed", "Client closed the request", "The client closed the request before it was answered.");
        }

        var result = Known(exception);
        if (result is null)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansReplication.Silo.Http");
            LogUnexpected(logger, exception, context.Request.Method, context.Request.Path, exception.GetType().FullName);
        }

        return result ?? Problem(StatusCodes.Status500InternalServerError, "internal", "Internal error", "The silo hit an internal error; it was logged. Retry, and report it if it persists.");
    }

    private static IResult? Known(Exception exception) => exception switch
    {
        InvalidRequestException e => Problem(StatusCodes.Status400BadRequest, "invalid-request", "Invalid request", e.Message),
        CursorExpiredException e => Problem(StatusCodes.Status410Gone, "cursor-expired", "Cursor too old, restart from a snapshot", e.Message),
        Listeners.PartitionHistoryRestartedException e => Problem(StatusCodes.Status410Gone, HistoryRestartedType, "Partition restarted after the cursor", e.Message),
        ItemTooLargeException e => Problem(StatusCodes.Status413PayloadTooLarge, "too-large", "Payload too large", e.Message),
        VersionConflictException e => Conflict(e),
        IdempotencyKeyReusedException e => Problem(StatusCodes.Status422UnprocessableEntity, "idempotency-key-reused", "Idempotency-Key reused", e.Message),
        PartiallyAppliedException e => PartiallyApplied(e),
        StoreUnavailableException e => Unavailable(e, "store-unavailable", "Store unavailable"),
        ReplicaUnavailableException e => Unavailable(e),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } e => Problem(StatusCodes.Status413PayloadTooLarge, "too-large", "Payload too large", e.Message),
        BadHttpRequestException e => Problem(e.StatusCode, "invalid-request", "Invalid request", e.Message),
        _ => null,
    };

    [LoggerMessage(EventId = LogEvents.HttpRequestFailed, Level = LogLevel.Error, Message = "{Method} {Path} failed with an unexpected {ExceptionType}; it was answered 500. Report it with this log.")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path, string? exceptionType);

    public static IResult NotFound(string component, ItemKey key) =>
        Problem(StatusCodes.Status404NotFound, "not-found", "Item not found", $"Component '{component}' has no item '{key}'.");

    public static IResult Problem(int status, string type, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        Results.Problem(detail: detail, statusCode: status, title: title, type: TypeBase + type, extensions: extensions);

    private static IResult Conflict(VersionConflictException e)
    {
        var first = e.Conflicts.Count > 0 ? e.Conflicts[0] : null;
        var extensions = new Dictionary<string, object?>
        {
            // The single-item case: the version to retry with (0 when the item does not exist).
            ["currentVersion"] = first?.CurrentVersion,
            ["conflicts"] = e.Conflicts.Select(c => new { id = c.Key.Id, partitionKey = c.Key.PartitionKey, expected = c.Expected.ToString(), currentVersion = c.CurrentVersion }).ToArray(),
        };
        if (e.Applied.Count > 0)
        {
            extensions["applied"] = e.Applied.Select(HttpJson.ResultObject).ToArray();
        }

        return Problem(StatusCodes.Status412PreconditionFailed, "version-conflict", "Stale version", e.Message, extensions);
    }

    // Some partitions of a batch applied their part, others could not be reached in time: 503, and
    // what was applied, so a client can tell; the same request with its Idempotency-Key applies the rest once.
    private static IResult PartiallyApplied(PartiallyAppliedException e) => new RetryAfterResult(
        Problem(StatusCodes.Status503ServiceUnavailable, "partially-applied", "Partially applied", e.Message, new Dictionary<string, object?> { ["applied"] = e.Applied.Select(HttpJson.ResultObject).ToArray() }),
        Math.Max(1, (int)Math.Ceiling(e.RetryAfter.TotalSeconds)));

    private static IResult Unavailable(ReplicaUnavailableException e, string type = "unavailable", string title = "Unavailable") => new RetryAfterResult(
        Problem(StatusCodes.Status503ServiceUnavailable, type, title, e.Message),
        Math.Max(1, (int)Math.Ceiling(e.RetryAfter.TotalSeconds)));

    /// <summary>Adds <c>Retry-After</c> to a problem response.</summary>
    private sealed class RetryAfterResult(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
