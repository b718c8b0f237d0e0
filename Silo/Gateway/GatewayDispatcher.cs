using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using OrleansReplication.Grains.State;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Api;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Gateway;

/// <summary>Executes gateway requests against the partitions: validates, converts, and builds replies.</summary>
internal sealed class GatewayDispatcher(PartitionManager partitions, PartitionMapManager map, MembershipService membership, IOptions<SiloOptions> options)
{
    private readonly PartitionRoutes _routes = new(map, membership, partitions);
    private readonly SiloOptions _options = options.Value;

    public async Task<ApplyReply> ApplyAsync(ApplyRequest request, CancellationToken cancellationToken)
    {
        RequestValidator.Component(request.Component);
        var key = RequestKey.FromWire(request.RequestId);
        var writes = new ItemWriteData[request.Changes.Count];
        for (var i = 0; i < writes.Length; i++)
        {
            var change = request.Changes[i];
            if (!Expect.TryFromWire(change.ExpectedVersion, out var expect))
            {
                throw new InvalidRequestException($"Change {i} ('{change.Id}') has expected_version {change.ExpectedVersion}; use -1 (any), -2 (exists), 0 (absent) or a version.");
            }

            var itemKey = new ItemKey(change.Id, change.PartitionKey.Length == 0 ? null : change.PartitionKey);
            writes[i] = new ItemWriteData(itemKey, change.Remove ? null : Unwrap(change.Value), expect);
            RequestValidator.Write(writes[i], _options.MaxItemBytes);
        }

        var results = await partitions.ApplyAsync(request.Component, writes, ToSafety(request.Safety), key, cancellationToken).ConfigureAwait(false);
        var reply = new ApplyReply();
        foreach (var result in results)
        {
            reply.Results.Add(ErrorTranslator.ToProto(result));
        }

        return reply;
    }

    public GetReply Get(GetRequest request)
    {
        RequestValidator.Component(request.Component);
        var reply = new GetReply();
        foreach (var item in request.Items)
        {
            var key = new ItemKey(item.Id, item.PartitionKey.Length == 0 ? null : item.PartitionKey);
            RequestValidator.Key(key);
            if (partitions.Get(request.Component, key) is { } state)
            {
                reply.Items.Add(new Item { Id = item.Id, PartitionKey = item.PartitionKey, Version = state.Version, Value = UnsafeByteOperations.UnsafeWrap(state.Json) });
            }
        }

        return reply;
    }

    public ListReply List(ListRequest request)
    {
        RequestValidator.Component(request.Component);
        var limit = RequestValidator.Limit(request.Limit == 0 ? _options.MaxListLimit : (int)Math.Min(request.Limit, int.MaxValue), _options.MaxListLimit);
        var (items, next) = partitions.List(request.Component, request.AfterId, limit);
        var reply = new ListReply { NextAfterId = next ?? string.Empty };
        foreach (var (key, entry) in items)
        {
            // Entries are immutable once committed, so wrapping without a copy is safe.
            reply.Items.Add(new Item { Id = key.Id, PartitionKey = key.PartitionKey, Version = entry.Version, Value = UnsafeByteOperations.UnsafeWrap(entry.Json) });
        }

        return reply;
    }

    /// <summary>The partition map as this silo caches it: clients route each item to its primary with it.</summary>
    public PartitionMapReply GetPartitionMap() => _routes.ToReply();

    private SafetyLevel ToSafety(Safety safety)
    {
        var level = (SafetyLevel)(int)safety;
        RequestValidator.Safety(level);
        return level == SafetyLevel.Default ? _options.DefaultSafety : level;
    }

    // A parsed ByteString owns a private array that nothing mutates: take it instead of copying.
    private static byte[] Unwrap(ByteString value) =>
        MemoryMarshal.TryGetArray(value.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : value.ToByteArray();
}
