using OrleansReplication.Silo.Membership;

namespace OrleansReplication.Tests.Membership;

/// <summary>Membership timings that would kill live silos or never notice dead ones are refused with the setting named.</summary>
public sealed class MembershipOptionsValidatorTests
{
    [Fact]
    public void Defaults_AreValidAndDetectACrashUnderASecond()
    {
        var options = new MembershipOptions();

        Assert.True(new MembershipOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(options.SuspicionConfirmTimeout + options.ProbeInterval < TimeSpan.FromSeconds(1), "A crashed silo (broken connection) must be declared dead well under a second by default.");
    }

    [Theory]
    [InlineData(nameof(MembershipOptions.HeartbeatInterval), "00:00:00")]
    [InlineData(nameof(MembershipOptions.ProbeInterval), "-00:00:01")]
    [InlineData(nameof(MembershipOptions.ProbeTimeout), "00:00:00")]
    [InlineData(nameof(MembershipOptions.SuspicionConfirmTimeout), "00:00:00")]
    [InlineData(nameof(MembershipOptions.RefusedConfirmTimeout), "-00:00:00.001")]
    [InlineData(nameof(MembershipOptions.DrainTimeout), "00:00:00")]
    public void NonPositiveTime_RefusedNamingTheSetting(string setting, string value)
    {
        var options = new MembershipOptions();
        typeof(MembershipOptions).GetProperty(setting)!.SetValue(options, TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture));

        var result = new MembershipOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Membership:" + setting, StringComparison.Ordinal));
    }

    [Fact]
    public void RefusedConfirmTimeoutZero_AcceptedAsTheDefault()
    {
        var options = new MembershipOptions { RefusedConfirmTimeout = TimeSpan.Zero };

        Assert.True(new MembershipOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(TimeSpan.Zero, new MembershipOptions().RefusedConfirmTimeout);
    }

    [Fact]
    public void ConfirmTimeoutNotAboveHeartbeat_Refused()
    {
        var options = new MembershipOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(500), SuspicionConfirmTimeout = TimeSpan.FromMilliseconds(500) };

        var result = new MembershipOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.Contains("Membership:SuspicionConfirmTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void ProbeTimeoutBelowTwoProbes_Refused()
    {
        var options = new MembershipOptions { ProbeInterval = TimeSpan.FromMilliseconds(200), ProbeTimeout = TimeSpan.FromMilliseconds(300) };

        var result = new MembershipOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.Contains("Membership:ProbeTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void DeathTimeoutBelowTwoHeartbeats_Refused()
    {
        var options = new MembershipOptions { HeartbeatInterval = TimeSpan.FromSeconds(1), DeathTimeout = TimeSpan.FromMilliseconds(1500), SuspicionConfirmTimeout = TimeSpan.FromMilliseconds(1200) };

        var result = new MembershipOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.Contains("Membership:DeathTimeout", StringComparison.Ordinal));
    }
}
