using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// The client's copy of the partition map: per partition, the gateway of its primary. Replaced
/// whole by a refresh and patched per partition by a "partition moved" answer; read lock-free.
/// </summary>
internal sealed class PartitionMapCache
{
    private volatile Routes? _routes;

    /// <summary>The cluster's partition count; 0 until a map was learned.</summary>
    public int PartitionCount => _routes?.Primaries.Length ?? 0;

    /// <summary>The partition of <paramref name="key"/> in <paramref name="component"/>, as every silo computes it; -1 before a map was learned.</summary>
    public int PartitionOf(string component, ItemKey key) =>
        _routes is { } routes ? PartitionHasher.GetPartition(component, key.EffectivePartitionKey, routes.Primaries.Length) : -1;

    /// <summary>The gateway of <paramref name="partition"/>'s primary; null when unknown (no map yet, or no live primary).</summary>
    public GatewayAddress? PrimaryOf(int partition) =>
        _routes is { } routes && (uint)partition < (uint)routes.Primaries.Length ? routes.Primaries[partition] : null;

    /// <summary>The distinct primaries' gateways, and whether every partition has one.</summary>
    public (IReadOnlyList<GatewayAddress> Primaries, bool Complete) DistinctPrimaries()
    {
        if (_routes is not { } routes)
        {
            return ([], false);
        }

        var primaries = routes.Primaries.Where(p => p is not null).Select(p => p!.Value).Distinct().ToList();
        return (primaries, routes.Primaries.All(p => p is not null));
    }

    /// <summary>Takes a map a silo sent; returns every gateway it names.</summary>
    public IReadOnlyList<GatewayAddress> Update(PartitionMapReply reply)
    {
        var primaries = new GatewayAddress?[reply.PartitionCount];
        foreach (var route in reply.Partitions)
        {
            if (route.Id < primaries.Length && GatewayAddress.TryParse(route.PrimaryGateway, out var gateway))
            {
                primaries[route.Id] = gateway;
            }
        }

        _routes = new Routes(primaries);
        return [.. primaries.Where(p => p is not null).Select(p => p!.Value).Distinct()];
    }

    /// <summary>Records that <paramref name="partition"/> is led at <paramref name="gateway"/> (from a "partition moved" answer).</summary>
    public void Moved(int partition, GatewayAddress gateway)
    {
        if (_routes is { } routes && (uint)partition < (uint)routes.Primaries.Length)
        {
            var primaries = (GatewayAddress?[])routes.Primaries.Clone();
            primaries[partition] = gateway;
            _routes = new Routes(primaries);
        }
    }

    private sealed record Routes(GatewayAddress?[] Primaries);
}
