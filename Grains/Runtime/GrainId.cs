namespace OrleansReplication.Grains.Runtime;

/// <summary>A grain's identity: its interface type name and its key. One activation per identity.</summary>
/// <param name="Type">The grain interface's full name.</param>
/// <param name="Key">The grain's string key.</param>
public readonly record struct GrainId(string Type, string Key)
{
    /// <summary>Makes the identity of the grain of interface <typeparamref name="TGrainInterface"/> with <paramref name="key"/>.</summary>
    public static GrainId For<TGrainInterface>(string key) => new(typeof(TGrainInterface).FullName!, key);

    /// <inheritdoc />
    public override string ToString() => $"{Type}/{Key}";
}
