using Microsoft.Extensions.Options;

namespace OrleansReplication.Silo.Membership;

/// <summary>Checks <see cref="MembershipOptions"/> at start and names every setting to fix.</summary>
internal sealed class MembershipOptionsValidator : IValidateOptions<MembershipOptions>
{
    public ValidateOptionsResult Validate(string? name, MembershipOptions options)
    {
        var failures = new List<string>();
        Positive(failures, nameof(options.ProbeTimeout), options.ProbeTimeout);
        Positive(failures, nameof(options.IAmAlivePublishTimeout), options.IAmAlivePublishTimeout);
        Positive(failures, nameof(options.TableRefreshTimeout), options.TableRefreshTimeout);
        Positive(failures, nameof(options.DrainTimeout), options.DrainTimeout);
        if (options.UnreachablePeerDeathDelay != Timeout.InfiniteTimeSpan && options.UnreachablePeerDeathDelay <= TimeSpan.Zero)
        {
            failures.Add($"Membership:UnreachablePeerDeathDelay is {options.UnreachablePeerDeathDelay}; use a positive time such as 00:00:10, or -00:00:00.001 (infinite) to turn it off.");
        }

        if (options.MissedProbesLimit < 1)
        {
            failures.Add($"Membership:MissedProbesLimit is {options.MissedProbesLimit}; use 1 or more (2: a paused silo is declared dead in about 3 probe timeouts).");
        }

        if (options.VotesForDeathDeclaration < 1)
        {
            failures.Add($"Membership:VotesForDeathDeclaration is {options.VotesForDeathDeclaration}; use 1 or more.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(List<string> failures, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"Membership:{setting} is {value}; it must be a positive time such as 00:00:01.");
        }
    }
}
