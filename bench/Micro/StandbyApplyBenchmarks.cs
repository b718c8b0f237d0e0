using BenchmarkDotNet.Attributes;
using OrleansReplication.Silo.Replication;

namespace OrleansReplication.Bench.Micro;

/// <summary>A standby applying a replication batch of 64 changes (256-byte values) to its warm copy.</summary>
[MemoryDiagnoser]
public class StandbyApplyBenchmarks
{
    private const int BatchSize = 64;
    private readonly byte[] _value = System.Text.Encoding.UTF8.GetBytes("\"" + new string('v', 342) + "\"");
    private StandbyReplica _standby = null!;
    private long _sequence;

    [GlobalSetup]
    public void Setup()
    {
        _standby = new StandbyReplica(0);
        _sequence = 0;
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int ApplyBatch()
    {
        // Built here: the batch arrives deserialized by Orleans, a fresh message each time.
        var batch = new ReplicationBatch { Partition = 0, Epoch = 1 };
        for (var i = 0; i < BatchSize; i++)
        {
            var sequence = ++_sequence;
            batch.Changes.Add(new ReplicatedChange { Component = "w1", Id = "item:" + (sequence % 100_000), Sequence = sequence, Value = _value });
        }

        return (int)_standby.Apply(batch);
    }
}
