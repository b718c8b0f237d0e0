namespace OrleansReplication;

/// <summary>
/// The grain that holds one item of one component. Its key is <see cref="StateItemGrainKey.Format"/>
/// of the component, item id and optional partition key (<c>"orders/o-1"</c>). It is placed on the
/// item's partition's primary; values are UTF-8 JSON.
/// </summary>
/// <remarks>
/// A write may carry an <see cref="IdempotencyId"/> in <see cref="Orleans.Runtime.RequestContext"/>
/// under <see cref="IdempotencyId.RequestContextKey"/>, so a retry takes effect once.
/// Calls that land while the partition moves fail with <see cref="PartitionMovedException"/>
/// (nothing applied): call again.
/// </remarks>
[Alias("OrleansReplication.IStateItemGrain")]
public interface IStateItemGrain : IGrainWithStringKey
{
    /// <summary>Reads the item, or <see langword="null"/> when it does not exist.</summary>
    [Alias("Get")]
    Task<JsonItem?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets the item to <paramref name="json"/> (one UTF-8 JSON value); returns the write's result (new version, created or not).</summary>
    /// <exception cref="VersionConflictException">The item is not at the expected version.</exception>
    [Alias("Set")]
    Task<WriteResult> SetAsync([Immutable] byte[] json, Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default);

    /// <summary>Removes the item; the result's <see cref="WriteResult.Changed"/> says whether it existed.</summary>
    /// <exception cref="VersionConflictException">The item is not at the expected version.</exception>
    [Alias("Remove")]
    Task<WriteResult> RemoveAsync(Expect expect = default, SafetyLevel safety = SafetyLevel.Default, CancellationToken cancellationToken = default);
}
