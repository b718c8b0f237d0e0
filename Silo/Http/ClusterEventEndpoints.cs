using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Http;

/// <summary>
/// The cluster event channel over SSE (<c>GET /v1/cluster/events</c>: recent events first, then
/// live ones) and the drain of a silo (<c>POST /v1/cluster/silos/{silo}/drain</c>, accepted by any silo).
/// </summary>
internal static class ClusterEventEndpoints
{
    // An idle stream gets a comment this often, so proxies and clients see it is alive.
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);

    private const int MaxSiloNameLength = 512;

    private static readonly JsonSerializerOptions EventJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static void MapClusterEventEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/cluster/events", StreamEventsAsync);
        app.MapPost("/v1/cluster/silos/{silo}/drain", DrainAsync);
    }

    private static async Task StreamEventsAsync(HttpContext context, ClusterEventChannel events)
    {
        var aborted = context.RequestAborted;
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(aborted).ConfigureAwait(false);
        await using var stream = events.FollowAsync(aborted).GetAsyncEnumerator(aborted);
        var next = Task.FromResult(true);
        try
        {
            next = stream.MoveNextAsync().AsTask();
            while (true)
            {
                using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                var idle = Task.Delay(KeepAliveInterval, keepAlive.Token);
                if (await Task.WhenAny(next, idle).ConfigureAwait(false) != next)
                {
                    await response.WriteAsync(": keep-alive\n\n", aborted).ConfigureAwait(false);
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                    continue;
                }

                await keepAlive.CancelAsync().ConfigureAwait(false);
                if (!await next.ConfigureAwait(false))
                {
                    return;
                }

                await response.WriteAsync(Format(stream.Current), aborted).ConfigureAwait(false);
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                next = stream.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The follower went away.
        }
        finally
        {
            // An async iterator cannot be disposed while a MoveNextAsync is pending (it throws
            // NotSupportedException): let the pending one end (the abort cancels it) first.
            await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static string Format(ClusterEvent e)
    {
        var data = JsonSerializer.Serialize(new
        {
            id = e.Id,
            time = e.Time,
            kind = e.Kind,
            silo = e.Silo,
            partition = e.Partition,
            epoch = e.Epoch,
            reason = e.Reason,
        }, EventJson);
        return new StringBuilder().Append("id: ").Append(e.Id).Append("\nevent: ").Append(e.Kind).Append("\ndata: ").Append(data).Append("\n\n").ToString();
    }

    private static async Task<IResult> DrainAsync(string silo, MembershipService membership, PartitionMapManager partitionMap, PartitionMapNotifier notifier, CancellationToken cancellationToken)
    {
        if (silo.Length > MaxSiloNameLength || silo.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || (silo.Contains('@', StringComparison.Ordinal) && !SiloIncarnation.TryParse(silo, out _)))
        {
            return HttpProblems.Problem(StatusCodes.Status400BadRequest, "invalid-request", "Invalid silo",
                $"'{Truncate(silo)}' is not a silo: use a silo id (e.g. silo-10.0.0.5-11111) or an incarnation 'id@incarnation' as listed by GET /v1/cluster/silos.");
        }

        await membership.RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (Find(membership.Current, silo) is not { } target)
        {
            return HttpProblems.Problem(StatusCodes.Status404NotFound, "not-found", "Silo not found",
                $"No live silo '{silo}' in the membership table (it may have stopped or been declared dead); see GET /v1/cluster/silos.");
        }

        if (target.Status != SiloStatus.ShuttingDown)
        {
            await membership.MarkDrainingAsync(target.Address, cancellationToken).ConfigureAwait(false);

            // Every silo re-reads the table now: the target starts handing off, the others stop
            // planning primaries for it.
            notifier.NotifyAll(membership.Current);
            var now = Find(membership.Current, target.Address.ToString());
            if (now is null)
            {
                return HttpProblems.Problem(StatusCodes.Status404NotFound, "not-found", "Silo not found", $"Silo '{silo}' stopped or was declared dead before it could be drained.");
            }

            return Results.Accepted(value: View(now, partitionMap, "draining: its primaries are being handed to in-sync standbys"));
        }

        return Results.Ok(View(target, partitionMap, "already draining"));
    }

    private static object View(SiloRecord silo, PartitionMapManager partitionMap, string detail) => new
    {
        silo = silo.Address.ToString(),
        status = "draining",
        partitionsLed = partitionMap.Current.LedBy(silo.Address).Count(),
        detail,
    };

    // An incarnation by its full address, or a silo id's live incarnation (the newest).
    private static SiloRecord? Find(MembershipSnapshot membership, string silo) =>
        membership.Silos
            .Where(s => s.Status != SiloStatus.Dead && (s.Address.ToString() == silo || s.Address.SiloId == silo))
            .OrderByDescending(s => s.Address.Incarnation)
            .FirstOrDefault();

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
