namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// Tests that run whole clusters and kill silos: they run one at a time, after the parallel tests,
/// so that a 2-core machine's load from other clusters does not trip the test cluster's 1 s death
/// timeout in the middle of a failover they measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialClusterCollection
{
    public const string Name = "Serial clusters";
}
