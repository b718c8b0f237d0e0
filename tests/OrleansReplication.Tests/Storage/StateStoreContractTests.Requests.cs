using System.Text;
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
        var big = new StoredRequest("client-a", unchecked((long)ulong.MaxValue), 2, [1, 2, 3]);
        var small = new StoredRequest("client-b", 7, 1, [4]);

        await store.CommitAsync(1, 1, 2, [Insert("a", 1, "{}"), Insert("b", 2, "{}")], new RequestRecords([big, small], 0), CancellationToken.None);
        await store.CommitAsync(2, 1, 1, [Insert("c", 1, "{}")], new RequestRecords([new StoredRequest("client-a", 1, 1, [9])], 0), CancellationToken.None);

        var requests = (await store.LoadPartitionAsync(1, CancellationToken.None)).Requests.OrderBy(r => r.LastSequence).ToList();
        Assert.Equal([small, big], requests, RequestComparer.Instance);
        Assert.Single((await store.LoadPartitionAsync(2, CancellationToken.None)).Requests);
    }

    [Fact]
    public async Task CommitAsync_ForgetUpTo_DeletesOlderRowsOfThatPartitionAndKeepsTheRest()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 3, [Insert("a", 3, "{}")], new RequestRecords([Request("r1", 1), Request("r2", 2), Request("r3", 3)], 0), CancellationToken.None);
        await store.CommitAsync(2, 1, 1, [Insert("b", 1, "{}")], new RequestRecords([Request("other", 1)], 0), CancellationToken.None);

        await store.CommitAsync(1, 1, 4, [Update("a", 3, 4, "{}")], new RequestRecords([Request("r4", 4)], 2), CancellationToken.None);

        Assert.Equal(["r3", "r4"], (await store.LoadPartitionAsync(1, CancellationToken.None)).Requests.Select(r => r.ClientId).Order());
        Assert.Single((await store.LoadPartitionAsync(2, CancellationToken.None)).Requests);
    }

    [Fact]
    public async Task CommitAsync_RequestAlreadyStored_KeepsTheFirstRow()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 1, 1, [Insert("a", 1, "{}")], new RequestRecords([new StoredRequest("c", 1, 1, [1])], 0), CancellationToken.None);

        await store.CommitAsync(1, 2, 2, [Update("a", 1, 2, "{}")], new RequestRecords([new StoredRequest("c", 1, 2, [2])], 0), CancellationToken.None);

        var request = Assert.Single((await store.LoadPartitionAsync(1, CancellationToken.None)).Requests);
        Assert.Equal(new StoredRequest("c", 1, 1, [1]), request, RequestComparer.Instance);
    }

    [Fact]
    public async Task CommitAsync_FencedOrConflicting_PersistsNoRequest()
    {
        var store = await OpenAsync();
        await store.CommitAsync(1, 5, 1, [Insert("a", 1, "{}")], CancellationToken.None);

        await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(1, 4, 2, [Update("a", 1, 2, "{}")], new RequestRecords([Request("stale", 2)], 1), CancellationToken.None));
        await Assert.ThrowsAsync<StoreConflictException>(() => store.CommitAsync(1, 5, 2, [Update("a", 9, 2, "{}")], new RequestRecords([Request("conflict", 2)], 0), CancellationToken.None));

        Assert.Empty((await store.LoadPartitionAsync(1, CancellationToken.None)).Requests);
    }

    private static StoredRequest Request(string clientId, long lastSequence) => new(clientId, 1, lastSequence, Encoding.UTF8.GetBytes(clientId));

    /// <summary>Stored requests are equal when every field and every record byte is.</summary>
    private sealed class RequestComparer : IEqualityComparer<StoredRequest>
    {
        public static readonly RequestComparer Instance = new();

        public bool Equals(StoredRequest x, StoredRequest y) =>
            (x.ClientId, x.Sequence, x.LastSequence) == (y.ClientId, y.Sequence, y.LastSequence) && x.Record.AsSpan().SequenceEqual(y.Record);

        public int GetHashCode(StoredRequest obj) => HashCode.Combine(obj.ClientId, obj.Sequence, obj.LastSequence);
    }
}
