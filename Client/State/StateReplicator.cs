using System.Runtime.CompilerServices;
using System.Text.Json;

namespace OrleansReplication.Client;

/// <summary>
/// One component's State Replicator over the partition grains: typed items as JSON, a call split
/// per partition and sent concurrently, each write under one idempotency id for its parts and retries.
/// </summary>
internal sealed partial class StateReplicator<TItem>(ReplicationContext context, string component, Func<TItem, ItemKey>? keySelector) : IStateReplicator<TItem>
{
    private const int PageSize = 500;

    private readonly JsonSerializerOptions _json = context.Options.JsonSerializerOptions;

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
        var data = new List<ItemWriteData>();
        foreach (var write in writes)
        {
            Validate(write.Key);
            data.Add(new ItemWriteData(write.Key, write.IsRemove ? null : JsonSerializer.SerializeToUtf8Bytes(write.Value, _json), write.Expect));
        }

        if (data.Count == 0)
        {
            return [];
        }

        // One id for the write's life: every part and every retry of it carries the same.
        options ??= WriteOptions.Default;
        return await context.Calls.ApplyAsync(Component, data, options.Safety, options.IdempotencyId ?? context.NextId(), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<VersionedItem<TItem>>> GetStateItemsAsync(IEnumerable<ItemKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = keys.ToList();
        foreach (var key in list)
        {
            Validate(key);
        }

        var found = await context.Calls.GetAsync(Component, list, cancellationToken).ConfigureAwait(false);
        return found.Select(ToItem).ToList();
    }

    public async Task<StatePage<TItem>> GetAllStateItemsAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var (items, next) = await context.Calls.ListAsync(Component, after, limit, cancellationToken).ConfigureAwait(false);
        return new StatePage<TItem>(items.Select(ToItem).ToList(), next);
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

    private VersionedItem<TItem> ToItem(JsonItem item) =>
        new(item.Key, Read(item.Key, item.Version, () => JsonSerializer.Deserialize<TItem>(item.Json, _json)), item.Version);

    /// <summary>The item as <typeparamref name="TItem"/>, its key filled in.</summary>
    /// <exception cref="ItemFormatException">The stored JSON is of another shape.</exception>
    private TItem Read(ItemKey key, long version, Func<TItem?> deserialize)
    {
        try
        {
            return StateKeyAccessor<TItem>.Fill(deserialize()!, key);
        }
        catch (JsonException ex)
        {
            throw new ItemFormatException(Component, key.ToString(), version, $"Item '{key}' (version {version}) of '{Component}' is not JSON of {typeof(TItem).Name}: {ex.Message} It was written in another shape (over HTTP or by another client); read the component with GetReplicator<JsonElement> to see or mend it.", ex);
        }
    }

    private static void Validate(ItemKey key)
    {
        if (StateNames.Validate(key) is { } error)
        {
            throw new InvalidRequestException(error);
        }
    }
}
