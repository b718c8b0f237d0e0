using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Http;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary>
/// An error no case expects answers 500 problem+json saying "it was logged": it is, with the
/// request and the exception, so an operator can report it (a CI failure showed a 500 whose cause
/// no log held). Expected errors keep their typed answer and log nothing.
/// </summary>
public sealed class HttpProblemsTests
{
    [Fact]
    public async Task UnexpectedError_Answers500ProblemJson_AndLogsItWithTheRequest()
    {
        var (context, logs) = Context("PUT", "/v1/components/orders/items/o-1");
        var error = new InvalidOperationException("Something no case expects.");

        await HttpProblems.From(error, context).ExecuteAsync(context);

        Assert.Equal(StatusCodes.Status500InternalServerError, context.Response.StatusCode);
        Assert.StartsWith("application/problem+json", context.Response.ContentType, StringComparison.Ordinal);
        var entry = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Same(error, entry.Exception);
        Assert.Contains("PUT /v1/components/orders/items/o-1", entry.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(InvalidOperationException), entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TypedError_KeepsItsStatus_AndLogsNothing()
    {
        var (context, logs) = Context("GET", "/v1/components/orders/items");

        await HttpProblems.From(new InvalidRequestException("limit must be an integer."), context).ExecuteAsync(context);

        Assert.Equal(StatusCodes.Status400BadRequest, context.Response.StatusCode);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task CallerWentAway_NotLoggedAsAnError()
    {
        var (context, logs) = Context("PUT", "/v1/components/orders/items/o-2");
        using var aborted = new CancellationTokenSource();
        context.RequestAborted = aborted.Token;
        await aborted.CancelAsync();

        await HttpProblems.From(new OperationCanceledException(aborted.Token), context).ExecuteAsync(context);

        Assert.Equal(StatusCodes.Status499ClientClosedRequest, context.Response.StatusCode);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    private static (DefaultHttpContext Context, RecordingLoggerProvider Logs) Context(string method, string path)
    {
        var logs = new RecordingLoggerProvider();
        var services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(logs))
            .AddProblemDetails()
            .BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = method;
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        return (context, logs);
    }
}
