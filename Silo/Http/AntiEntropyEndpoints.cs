using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Http;

/// <summary>
/// Anti-entropy on demand, from any silo: <c>POST /v1/cluster/partitions/{id}/verify</c> compares
/// one partition's standbys (and with <c>?store=true</c> its store) with its primary now and
/// repairs what differs; <c>POST /v1/cluster/partitions/verify</c> does every partition. The
/// background comparisons (<c>Replication:AntiEntropy</c>) run without them.
/// </summary>
internal static class AntiEntropyEndpoints
{
    public static void MapAntiEntropyEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/cluster/partitions/verify", VerifyAllAsync);
        app.MapPost("/v1/cluster/partitions/{id}/verify", VerifyOneAsync);
    }

    private static async Task<IResult> VerifyOneAsync(string id, string? store, HttpContext context, Orleans.IGrainFactory grains, PartitionManager partitions)
    {
        if (!TryParseStore(store, out var withStore))
        {
            return BadStore(store);
        }

        if (!int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var partition) || partition >= partitions.PartitionCount)
        {
            return HttpProblems.Problem(StatusCodes.Status404NotFound, "not-found", "No such partition", $"Partition '{id}' does not exist; the cluster has {partitions.PartitionCount} partitions (0 to {partitions.PartitionCount - 1}).");
        }

        try
        {
            return Results.Ok(await grains.GetGrain<IPartitionGrain>(partition).VerifyAsync(withStore, context.RequestAborted).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            return HttpProblems.From(ex, context);
        }
    }

    private static async Task<IResult> VerifyAllAsync(string? store, HttpContext context, Orleans.IGrainFactory grains, PartitionManager partitions)
    {
        if (!TryParseStore(store, out var withStore))
        {
            return BadStore(store);
        }

        var results = await Task.WhenAll(Enumerable.Range(0, partitions.PartitionCount).Select(async p =>
        {
            try
            {
                return (object)await grains.GetGrain<IPartitionGrain>(p).VerifyAsync(withStore, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ReplicationException or Orleans.Runtime.OrleansException or TimeoutException)
            {
                // One partition without a primary right now does not hide the others' answers.
                return new { partition = p, error = ex.Message };
            }
        })).ConfigureAwait(false);
        return Results.Ok(new { partitions = results });
    }

    private static bool TryParseStore(string? store, out bool withStore)
    {
        withStore = false;
        return store is null || bool.TryParse(store, out withStore);
    }

    private static IResult BadStore(string? store) =>
        HttpProblems.Problem(StatusCodes.Status400BadRequest, "invalid-request", "Invalid request", $"The query parameter 'store' is '{store}'; use store=true to compare the store too, or store=false (the default) for the standbys only.");
}
