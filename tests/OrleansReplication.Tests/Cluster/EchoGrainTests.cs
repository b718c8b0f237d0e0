using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Cluster;

/// <summary>The trivial grain the benchmark's ceiling line calls answers on a real cluster, wherever Orleans places it.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class EchoGrainTests(OrleansClusterFixture fixture)
{
    [Fact]
    public async Task Echo_ManyGrains_EachAnswersThePayloadsLength()
    {
        var payload = new byte[256];
        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(g => fixture.Cluster.Client.GetGrain<IEchoGrain>(g).EchoAsync(payload)));
        Assert.All(answers, a => Assert.Equal(256, a));
    }
}
