using System.Runtime.CompilerServices;
using System.Text.Json;
using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>The client side of one component's State Replicator: typed items as JSON on the wire.</summary>
internal sealed partial class StateReplicator<TItem>(ReplicationClient client, string component, Func<TItem, ItemKey>? keySelector) : IStateReplicator<TItem>
{
    private const int PageSize = 500;

    private readonly JsonSerializerOptions _json = client.Options.JsonSerializerOptions;

    public string Component { get; } = component;

    public Task<IReadOnlyList<WriteResult>> SetStateItemsAsync(IEnumerable<TItem> items, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var selector = keySelector ?? throw new InvalidOperationException(
            $"{typeof(TItem).Name} is not internally keyed: mark its id property with [StateKey], pass a key selector to GetReplicator, or use the overload that takes keys.");
        return ApplyAsync(items.Select(item => ItemWrite<TItem>.Set(selector(item), item)), options, cancellationToken);
    }

    public Task<IReadOnlyList<WriteResult>> SetStateItemsAsync(IEnumerable<KeyValuePair<ItemKey, TItem>> items, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        return ApplyAsync(items.Select(pair => ItemWrite<TItem>.Set(pair.Key, pair.Value)), options, cancellationToken);
    }

    public Task<IReadOnlyList<WriteResult>> RemoveStateItemsAsync(IEnumerable<ItemKey> keys, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return ApplyAsync(keys.Select(key => ItemWrite<TItem>.Remove(key)), options, cancellationToken);
    }

    public async Task<IReadOnlyList<WriteResult>> ApplyAsync(IEnumerable<ItemWrite<TItem>> writes, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var request = new ApplyRequest { Component = Component, Safety = (Safety)(int)(options ?? WriteOptions.Default).Safety };
        foreach (var write in writes)
        {
            Validate(write.Key);
            request.Changes.Add(new ItemChange
            {
                Id = write.Key.Id,
                PartitionKey = write.Key.PartitionKey ?? string.Empty,
                Remove = write.IsRemove,

                // A fresh array nobody else holds: wrapping it without a copy is safe.
                Value = write.IsRemove ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(JsonSerializer.SerializeToUtf8Bytes(write.Value, _json)),
                ExpectedVersion = write.Expect.Value,
            });
        }

        if (request.Changes.Count == 0)
        {
            return [];
        }

        return await client.ApplyAsync(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<VersionedItem<TItem>>> GetStateItemsAsync(IEnumerable<ItemKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var request = new GetRequest { Component = Component };
        foreach (var key in keys)
        {
            Validate(key);
            request.Items.Add(new ItemRef { Id = key.Id, PartitionKey = key.PartitionKey ?? string.Empty });
        }

        if (request.Items.Count == 0)
        {
            return [];
        }

        var found = await client.GetAsync(request, cancellationToken).ConfigureAwait(false);
        return found.Select(ToItem).ToList();
    }

    public async Task<StatePage<TItem>> GetAllStateItemsAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var request = new ListRequest { Component = Component, AfterId = after ?? string.Empty, Limit = (uint)limit };
        var reply = await client.ListAsync(request, cancellationToken).ConfigureAwait(false);
        return new StatePage<TItem>(reply.Items.Select(ToItem).ToList(), reply.NextAfterId.Length == 0 ? null : reply.NextAfterId);
    }

    public async IAsyncEnumerable<VersionedItem<TItem>> GetAllStateItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? after = null;
        do
        {
            var page = await GetAllStateItemsAsync(after, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                yield return item;
            }

            after = page.NextAfter;
        }
        while (after is not null);
    }

    private VersionedItem<TItem> ToItem(Item item) =>
        new(ErrorReplies.Key(item.Id, item.PartitionKey), JsonSerializer.Deserialize<TItem>(item.Value.Span, _json)!, item.Version);

    private static void Validate(ItemKey key)
    {
        if (StateNames.Validate(key) is { } error)
        {
            throw new InvalidRequestException(error);
        }
    }
}
