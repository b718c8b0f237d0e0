namespace OrleansReplication;

/// <summary>
/// A trivial grain: it holds nothing and answers at once. It is the bare Orleans call that a
/// replicated write is measured against (the benchmark's ceiling line), and a quick way to see
/// that a cluster answers grain calls at all.
/// </summary>
[Alias("OrleansReplication.IEchoGrain")]
public interface IEchoGrain : IGrainWithIntegerKey
{
    /// <summary>Answers the length of <paramref name="payload"/>.</summary>
    [Alias("Echo")]
    Task<int> EchoAsync([Immutable] byte[] payload);
}
