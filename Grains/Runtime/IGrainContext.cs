namespace OrleansReplication.Grains.Runtime;

/// <summary>What the silo's runtime gives an activation: its identity, a grain factory and a way to ask for deactivation.</summary>
public interface IGrainContext
{
    /// <summary>The activation's grain identity.</summary>
    GrainId GrainId { get; }

    /// <summary>Gets references to other grains; calls through them are scheduled on those grains' turns.</summary>
    IGrainFactory GrainFactory { get; }

    /// <summary>Asks the runtime to deactivate this activation once its current turn ends.</summary>
    void DeactivateOnIdle();
}

/// <summary>Why an activation is deactivated.</summary>
public enum DeactivationReason
{
    /// <summary>It was idle for longer than the idle timeout.</summary>
    Idle,

    /// <summary>The grain asked for it with <see cref="Grain.DeactivateOnIdle"/>.</summary>
    Requested,

    /// <summary>The silo is shutting down.</summary>
    ShuttingDown,

    /// <summary>Activation failed.</summary>
    ActivationFailed,
}
