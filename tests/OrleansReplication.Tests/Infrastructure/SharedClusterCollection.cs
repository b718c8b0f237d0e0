namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// The tests on the shared <see cref="OrleansClusterFixture"/>: one at a time (they share its
/// silos), after the parallel tests, like the <see cref="SerialClusterCollection"/> and for the same reason.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SharedClusterCollection : ICollectionFixture<OrleansClusterFixture>
{
    public const string Name = "Shared Orleans cluster";
}
