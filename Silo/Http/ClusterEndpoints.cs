using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Silo.Http;

/// <summary>Operator endpoints: this silo, the membership, the partition map, and Kubernetes probes.</summary>
internal static class ClusterEndpoints
{
    public static void MapClusterEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/cluster", (SiloIdentity identity, PartitionManager partitions, IStateStore store) => Results.Ok(new
        {
            id = identity.Address.ToString(),
            name = identity.SiloId,
            status = partitions.IsReady ? "active" : "starting",
            startedAt = identity.StartedAt,
            storage = store.ProviderName,
            endpoints = new { http = identity.HttpEndpoint, gateway = identity.GatewayEndpoint, silo = identity.SiloEndpoint },
            partitionCount = partitions.PartitionCount,
            partitionsServing = partitions.Partitions.Count(p => p.Status == PartitionStatus.Serving),
            items = partitions.Partitions.Sum(p => p.Items.Count),
        }));

        app.MapGet("/v1/cluster/silos", (MembershipService membership, PartitionMapManager map) => Results.Ok(new
        {
            silos = membership.Current.Silos.Select(s => new
            {
                id = s.Address.ToString(),
                status = s.Status.ToString().ToLowerInvariant(),
                httpEndpoint = s.HttpEndpoint,
                gatewayEndpoint = s.GatewayEndpoint,
                siloEndpoint = s.Silo?.Endpoint.ToString() ?? s.SiloEndpoint,
                zone = s.Zone,
                host = s.Host,
                rack = s.Rack,
                orleansAddress = s.Silo?.ToParsableString(),
                partitions = map.Current.CarriedBy(s.Address),
            }),
        }));

        app.MapGet("/v1/cluster/partitions", async (PartitionMapManager map, Orleans.IGrainFactory grains, CancellationToken cancellationToken) =>
        {
            // Every partition's progress from its primary (the partition grain lives there); a
            // partition without a reachable primary right now shows the map's view only.
            var assignments = map.Current.Assignments;
            var progress = await Task.WhenAll(assignments.Select((a, id) => ProgressAsync(grains, a is null ? -1 : id, cancellationToken))).ConfigureAwait(false);
            return Results.Ok(new
            {
                partitions = assignments.Select((a, id) => new
                {
                    id,
                    epoch = a?.Epoch,
                    version = a?.Version,
                    primary = a?.Primary?.ToString(),
                    lastSequence = progress[id]?.LastSequence,
                    standbys = a?.Standbys.Select(s => StandbyView(s, progress[id])) ?? [],
                    storeCheck = progress[id]?.StoreCheck,
                }),
            });
        });

        static object StandbyView(SiloIncarnation standby, PartitionProgress? progress)
        {
            // The primary knows its standbys' progress from their acks.
            var link = progress?.Standbys.FirstOrDefault(l => l.Silo == standby.ToString());
            return new { silo = standby.ToString(), appliedSequence = link?.AppliedSequence, inSync = link?.InSync, lastCheck = link?.LastCheck };
        }

        static async Task<PartitionProgress?> ProgressAsync(Orleans.IGrainFactory grains, int partition, CancellationToken cancellationToken)
        {
            if (partition < 0)
            {
                return null;
            }

            try
            {
                return await grains.GetGrain<IPartitionGrain>(partition).GetProgressAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ReplicationException or TimeoutException or Orleans.Runtime.OrleansException)
            {
                return null;
            }
        }

        app.MapGet("/healthz/live", () => Results.Ok(new { status = "live" }));
        app.MapGet("/healthz/ready", (PartitionManager partitions) => partitions.IsReady
            ? Results.Ok(new { status = "ready" })
            : HttpProblems.Problem(StatusCodes.Status503ServiceUnavailable, "unavailable", "Not ready", "The silo is still loading its partitions."));
    }
}
