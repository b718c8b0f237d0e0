namespace OrleansReplication;

/// <summary>
/// When a write is acknowledged (seed 002, "safe distance"). Each level includes the ones before it.
/// </summary>
[GenerateSerializer]
[Alias("OrleansReplication.SafetyLevel")]
public enum SafetyLevel
{
    /// <summary>Use the component's default (<see cref="Applied"/> unless configured).</summary>
    Default = 0,

    /// <summary>Acknowledged once the primary applied it.</summary>
    Local = 1,

    /// <summary>Acknowledged once every in-sync standby has it queued.</summary>
    Received = 2,

    /// <summary>Acknowledged once every in-sync standby applied it to its warm copy.</summary>
    Applied = 3,

    /// <summary>Acknowledged once it is persisted in the store.</summary>
    Durable = 4,
}
