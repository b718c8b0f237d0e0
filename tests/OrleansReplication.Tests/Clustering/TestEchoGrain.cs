namespace OrleansReplication.Tests.Clustering;

/// <summary>A trivial Orleans grain for the clustering integration test: answers with what it got.</summary>
/// <remarks>Orleans types are qualified: the old runtime's OrleansReplication.IGrainWithStringKey would win over a using.</remarks>
public interface ITestEchoGrain : Orleans.IGrainWithStringKey
{
    /// <summary>Returns <paramref name="text"/>.</summary>
    Task<string> EchoAsync(string text);
}

/// <summary>The grain behind <see cref="ITestEchoGrain"/>.</summary>
public sealed class TestEchoGrain : Orleans.Grain, ITestEchoGrain
{
    /// <inheritdoc />
    public Task<string> EchoAsync(string text) => Task.FromResult(text);
}
