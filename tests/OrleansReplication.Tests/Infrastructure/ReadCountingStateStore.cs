using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansReplication.Silo.Hosting;
using OrleansReplication.Silo.Storage;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// The silo's real store with its item reads counted: which partitions a test cluster silo loaded
/// row by row (a cold start or a merge), so a test can say a failover read nothing from storage.
/// </summary>
internal sealed class ReadCountingStateStore(IStateStore inner) : IStateStore
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _loaded = new();

    /// <summary>The partitions whose items were read from the store, in order.</summary>
    public IReadOnlyList<int> LoadedPartitions => [.. _loaded];

    public string ProviderName => inner.ProviderName;

    /// <summary>Registers the counting store around the one the silo's options name (before <c>AddStateReplication</c>, which then keeps it).</summary>
    public static void AddTo(IServiceCollection services) =>
        services.AddSingleton<IStateStore>(sp => new ReadCountingStateStore(StateStoreFactory.Create(sp.GetRequiredService<IOptions<SiloOptions>>().Value, sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>())));

    public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

    public Task<int> GetOrSetPartitionCountAsync(int proposed, CancellationToken cancellationToken) => inner.GetOrSetPartitionCountAsync(proposed, cancellationToken);

    public Task<PartitionData> LoadPartitionAsync(int partitionId, CancellationToken cancellationToken)
    {
        _loaded.Enqueue(partitionId);
        return inner.LoadPartitionAsync(partitionId, cancellationToken);
    }

    public Task<PartitionData> LoadPartitionHeadAsync(int partitionId, CancellationToken cancellationToken) => inner.LoadPartitionHeadAsync(partitionId, cancellationToken);

    public Task CommitAsync(int partitionId, long epoch, long lastSequence, IReadOnlyList<StoredWrite> writes, RequestRecords requests, CommitSync sync, CancellationToken cancellationToken) =>
        inner.CommitAsync(partitionId, epoch, lastSequence, writes, requests, sync, cancellationToken);

    public Task<int> RepairAsync(int partitionId, long epoch, IReadOnlyList<StoredWrite> writes, CancellationToken cancellationToken) =>
        inner.RepairAsync(partitionId, epoch, writes, cancellationToken);

    public Task SyncAsync(CancellationToken cancellationToken) => inner.SyncAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
