namespace OrleansReplication.Silo.Runtime;

/// <summary>Options of the grain runtime (section <c>Silo:Grains</c>).</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>How long an activation may go without a call before it is deactivated.</summary>
    /// <value>Defaults to 10 minutes.</value>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often idle activations are looked for.</summary>
    /// <value>Defaults to 1 minute; a tenth of <see cref="IdleTimeout"/> is a good value.</value>
    public TimeSpan CollectionInterval { get; set; } = TimeSpan.FromMinutes(1);
}
