using System.Collections.Concurrent;

namespace OrleansReplication.Grains.State;

/// <summary>
/// The activations on this silo per partition, so that when the silo stops leading a partition
/// (handoff, failover, fencing) they deactivate at once and the next call is placed on the new
/// primary instead of failing here first. Thread-safe: grains register from their own turns, the
/// silo's role changes deactivate from its own thread (<see cref="IGrainContext.Deactivate(DeactivationReason, CancellationToken)"/> is thread-safe).
/// </summary>
internal sealed class PartitionActivations
{
    private readonly ConcurrentDictionary<int, ConcurrentDictionary<IGrainContext, byte>> _byPartition = new();

    public void Add(int partition, IGrainContext activation) =>
        _byPartition.GetOrAdd(partition, static _ => new ConcurrentDictionary<IGrainContext, byte>())[activation] = 0;

    public void Remove(int partition, IGrainContext activation)
    {
        if (_byPartition.TryGetValue(partition, out var set))
        {
            set.TryRemove(activation, out _);
        }
    }

    /// <summary>Deactivates every activation of <paramref name="partition"/> on this silo.</summary>
    public void DeactivateAll(int partition) => Deactivate(partition);

    /// <summary>Deactivates every activation of <paramref name="partition"/> on this silo; returns how many.</summary>
    public int Deactivate(int partition)
    {
        if (!_byPartition.TryGetValue(partition, out var set))
        {
            return 0;
        }

        var count = 0;
        foreach (var activation in set.Keys)
        {
            set.TryRemove(activation, out _);
            activation.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, $"This silo no longer leads partition {partition}."));
            count++;
        }

        return count;
    }

    /// <summary>How many activations are registered (tests).</summary>
    public int Count => _byPartition.Values.Sum(s => s.Count);
}
