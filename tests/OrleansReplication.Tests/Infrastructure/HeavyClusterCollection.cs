namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// Test classes that each run several in-process silos under steady writes: they run one at a
/// time (other classes still run beside them), so on a small machine their silos' heartbeats
/// are not starved into false deaths.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HeavyClusterCollection
{
    public const string Name = "Heavy cluster tests";
}
