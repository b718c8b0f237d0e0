using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Http;

/// <summary>Operator endpoints: this silo's identity and status, and Kubernetes probes.</summary>
internal static class ClusterEndpoints
{
    public static void MapClusterEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/cluster", (SiloIdentity identity, PartitionManager partitions, IStateStore store) => Results.Ok(new
        {
            id = identity.SiloId,
            status = partitions.IsReady ? "active" : "starting",
            startedAt = identity.StartedAt,
            storage = store.ProviderName,
            endpoints = new { http = identity.HttpEndpoint, gateway = identity.GatewayEndpoint, silo = identity.SiloEndpoint },
            partitionCount = partitions.PartitionCount,
            partitionsServing = partitions.Partitions.Count(p => p.Status == PartitionStatus.Serving),
            items = partitions.Partitions.Sum(p => p.Items.Count),
        }));

        app.MapGet("/healthz/live", () => Results.Ok(new { status = "live" }));
        app.MapGet("/healthz/ready", (PartitionManager partitions) => partitions.IsReady
            ? Results.Ok(new { status = "ready" })
            : HttpProblems.Problem(StatusCodes.Status503ServiceUnavailable, "unavailable", "Not ready", "The silo is still loading its partitions."));
    }
}
