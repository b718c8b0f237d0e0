namespace OrleansReplication.Grains.Runtime;

/// <summary>
/// The base of every grain class. The runtime creates one instance per grain identity on first
/// call, runs its calls one at a time in arrival order (turn-based: grain code needs no locks),
/// and deactivates it when idle.
/// </summary>
public abstract class Grain
{
    private IGrainContext? _context;

    /// <summary>The grain's identity.</summary>
    public GrainId GrainId => Context.GrainId;

    /// <summary>The grain's key.</summary>
    public string PrimaryKey => Context.GrainId.Key;

    /// <summary>The grain's identity as text, for logs.</summary>
    public string IdentityString => Context.GrainId.ToString();

    /// <summary>Gets references to other grains.</summary>
    protected IGrainFactory GrainFactory => Context.GrainFactory;

    private IGrainContext Context => _context ?? throw new InvalidOperationException("The grain is not activated by a runtime yet.");

    /// <summary>Called once, before the first call is delivered; a failure fails the calls waiting for it.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Called once, after the last call of this activation.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deactivates this activation once the current turn ends; the next call creates a fresh one.</summary>
    protected void DeactivateOnIdle() => Context.DeactivateOnIdle();

    internal void Attach(IGrainContext context) => _context = context;
}
