namespace OrleansReplication;

/// <summary>Marks a grain interface. Grains are addressed by type and key, activated on first call, and run one call at a time.</summary>
public interface IGrain;

/// <summary>A grain addressed by a string key.</summary>
public interface IGrainWithStringKey : IGrain;

/// <summary>Gets references to grains, as in Orleans.</summary>
public interface IGrainFactory
{
    /// <summary>Gets a reference to the grain of interface <typeparamref name="TGrainInterface"/> with key <paramref name="primaryKey"/>. No call is made.</summary>
    TGrainInterface GetGrain<TGrainInterface>(string primaryKey)
        where TGrainInterface : IGrainWithStringKey;
}
