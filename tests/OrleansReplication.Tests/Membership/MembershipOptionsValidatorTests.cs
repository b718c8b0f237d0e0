using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Tests.Membership;

/// <summary>Membership timings that would kill live silos or never notice dead ones are refused with the setting named.</summary>
public sealed class MembershipOptionsValidatorTests
{
    [Fact]
    public void Defaults_AreValidAndDeclareAPausedSiloDeadInAboutThreeSeconds()
    {
        var options = new MembershipOptions();

        Assert.True(new MembershipOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(options.ProbeTimeout * (options.MissedProbesLimit + 1) <= TimeSpan.FromSeconds(3), "A paused silo must be declared dead in about 3 s by default.");
    }

    [Theory]
    [InlineData(nameof(MembershipOptions.ProbeTimeout), "00:00:00")]
    [InlineData(nameof(MembershipOptions.IAmAlivePublishTimeout), "-00:00:01")]
    [InlineData(nameof(MembershipOptions.TableRefreshTimeout), "00:00:00")]
    [InlineData(nameof(MembershipOptions.DrainTimeout), "00:00:00")]
    public void NonPositiveTime_RefusedNamingTheSetting(string setting, string value)
    {
        var options = new MembershipOptions();
        typeof(MembershipOptions).GetProperty(setting)!.SetValue(options, TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture));

        var result = new MembershipOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Membership:" + setting, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(nameof(MembershipOptions.MissedProbesLimit))]
    [InlineData(nameof(MembershipOptions.VotesForDeathDeclaration))]
    public void CountBelowOne_RefusedNamingTheSetting(string setting)
    {
        var options = new MembershipOptions();
        typeof(MembershipOptions).GetProperty(setting)!.SetValue(options, 0);

        var result = new MembershipOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.Contains("Membership:" + setting, StringComparison.Ordinal));
    }

    [Fact]
    public void UnreachablePeerDeathDelay_NonPositiveRefused_InfiniteTurnsItOff_NeverWithinOrleansOwnDetection()
    {
        var zero = new MembershipOptions { UnreachablePeerDeathDelay = TimeSpan.Zero };
        var off = new MembershipOptions { UnreachablePeerDeathDelay = Timeout.InfiniteTimeSpan };
        var soon = new MembershipOptions { UnreachablePeerDeathDelay = TimeSpan.FromSeconds(1) };
        var parkedProbes = new MembershipOptions { ProbeTimeout = TimeSpan.FromHours(1) };

        Assert.Contains(new MembershipOptionsValidator().Validate(null, zero).Failures!, f => f.Contains("Membership:UnreachablePeerDeathDelay", StringComparison.Ordinal));
        Assert.True(new MembershipOptionsValidator().Validate(null, off).Succeeded);
        Assert.Equal(Timeout.InfiniteTimeSpan, off.EffectiveUnreachablePeerDeathDelay);

        // Orleans' detection (ProbeTimeout x (MissedProbesLimit + 1)) gets its chance first, twice over.
        Assert.True(new MembershipOptionsValidator().Validate(null, soon).Succeeded);
        Assert.Equal(TimeSpan.FromSeconds(6), soon.EffectiveUnreachablePeerDeathDelay);
        Assert.Equal(TimeSpan.FromSeconds(10), new MembershipOptions().EffectiveUnreachablePeerDeathDelay);
        Assert.Equal(TimeSpan.FromHours(6), parkedProbes.EffectiveUnreachablePeerDeathDelay);
    }
}
