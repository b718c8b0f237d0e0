using OrleansReplication.Silo.Storage;
using Xunit;

namespace OrleansReplication.Tests.Storage;

/// <summary>The recorded requests (idempotency ids) of the <see cref="IStateStore"/> contract: written with the commit's changes, or not at all.</summary>
public abstract partial class StateStoreContractTests
{
    [Fact]
    public async Task CommitAsync_WithRequests_LoadReturnsThemForThatPartitionOnly()
    {
        var store = await OpenAsync();

        await store.CommitAsync(1, 1, 2, [Insert("a", 1, "{}"), Insert("b", 2, "{}")], Requests(0, Block(1, 1), Block(2, 2, 3)), CancellationToken.None);
        await store.CommitAsync(2, 1, 1, [Insert("c", 1, "{}")], Requests(0, Block(1, 9)), CancellationToken.None);

        Assert.Equal(["1:1", "2:2,3"], await BlocksAsync(store, 1));
        Assert.Equal(["1:9"], await BlocksAsync(store, 2));
    }

    [Fact]
    public async Task CommitAsync_ForgetUpTo_DeletesOlderRowsOfThatPartitionAndKeepsTheRest()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 3, [Insert("a", 3, "{}")], Requests(0, Block(1, 1), Block(2, 2), Block(3, 3)), CancellationToken.None);
        await store.CommitAsync(2, 1, 1, [Insert("b", 1, "{}")], Requests(0, Block(1, 1)), CancellationToken.None);

        await store.CommitAsync(1, 1, 4, [Update("a", 3, 4, "{}")], Requests(2, Block(4, 4)), CancellationToken.None);

        Assert.Equal(["3:3", "4:4"], await BlocksAsync(store, 1));
        Assert.Equal(["1:1"], await BlocksAsync(store, 2));
    }

    [Fact]
    public async Task CommitAsync_RowAlreadyStored_KeepsTheFirst()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 1, [Insert("a", 1, "{}")], Requests(0, Block(1, 1)), CancellationToken.None);

        await store.CommitAsync(1, 2, 2, [Update("a", 1, 2, "{}")], Requests(0, Block(1, 7)), CancellationToken.None);

        Assert.Equal(["1:1"], await BlocksAsync(store, 1));
    }

    [Fact]
    public async Task CommitAsync_FencedOrConflicting_PersistsNoRequest()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 5, 1, [Insert("a", 1, "{}")], Requests(0, Block(1, 1)), CancellationToken.None);

        await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(1, 4, 2, [Update("a", 1, 2, "{}")], Requests(1, Block(2, 2)), CancellationToken.None));
        await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(1, 5, 2, [Update("a", 9, 2, "{}")], Requests(1, Block(2, 2)), CancellationToken.None));

        Assert.Equal(["1:1"], await BlocksAsync(store, 1));
    }

    private static RequestRecords Requests(long forgetUpTo, params StoredRequestBlock[] blocks) => new(blocks, forgetUpTo);

    private static StoredRequestBlock Block(long lastSequence, params byte[] content) => new(lastSequence, content);

    /// <summary>The partition's rows as "last:bytes", ordered: the store keeps the bytes it was given, opaque.</summary>
    private static async Task<List<string>> BlocksAsync(IStateStore store, int partitionId) =>
        [.. (await store.LoadPartitionAsync(partitionId, CancellationToken.None)).Requests
            .OrderBy(b => b.LastSequence)
            .Select(b => $"{b.LastSequence}:{string.Join(",", b.Requests)}")];
}
