namespace OrleansReplication.Grains.Cluster;

/// <summary>Answers at once and holds nothing (default placement, as a user's plain grain would have).</summary>
internal sealed class EchoGrain : Grain, IEchoGrain
{
    public Task<int> EchoAsync(byte[] payload) => Task.FromResult(payload.Length);
}
