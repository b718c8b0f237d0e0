using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Membership;

/// <summary>Refuses membership timings that would declare live silos dead or never notice dead ones.</summary>
internal sealed class MembershipOptionsValidator : IValidateOptions<MembershipOptions>
{
    public ValidateOptionsResult Validate(string? name, MembershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Positive(failures, nameof(options.HeartbeatInterval), options.HeartbeatInterval);
        Positive(failures, nameof(options.RefreshInterval), options.RefreshInterval);
        Positive(failures, nameof(options.DeathTimeout), options.DeathTimeout);
        Positive(failures, nameof(options.ProbeInterval), options.ProbeInterval);
        Positive(failures, nameof(options.ProbeTimeout), options.ProbeTimeout);
        Positive(failures, nameof(options.SuspicionConfirmTimeout), options.SuspicionConfirmTimeout);
        if (options.RefusedConfirmTimeout < TimeSpan.Zero)
        {
            failures.Add($"Membership:RefusedConfirmTimeout is {options.RefusedConfirmTimeout}; use zero (declare at once) or a positive time.");
        }

        Positive(failures, nameof(options.DrainTimeout), options.DrainTimeout);
        if (failures.Count > 0)
        {
            return ValidateOptionsResult.Fail(failures);
        }

        if (options.DeathTimeout < 2 * options.HeartbeatInterval)
        {
            failures.Add($"Membership:DeathTimeout ({options.DeathTimeout}) must be at least twice Membership:HeartbeatInterval ({options.HeartbeatInterval}), or one late heartbeat kills a live silo.");
        }

        if (options.SuspicionConfirmTimeout <= options.HeartbeatInterval || options.SuspicionConfirmTimeout > options.DeathTimeout)
        {
            failures.Add($"Membership:SuspicionConfirmTimeout ({options.SuspicionConfirmTimeout}) must be above Membership:HeartbeatInterval ({options.HeartbeatInterval}) and at most Membership:DeathTimeout ({options.DeathTimeout}).");
        }

        if (options.ProbeTimeout < 2 * options.ProbeInterval)
        {
            failures.Add($"Membership:ProbeTimeout ({options.ProbeTimeout}) must be at least twice Membership:ProbeInterval ({options.ProbeInterval}), or one late answer makes a suspicion.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(List<string> failures, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"Membership:{setting} is {value}; use a positive time.");
        }
    }
}
