using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Http;

/// <summary>A follower of the cluster event stream that goes away is no error: the silo logs nothing about it.</summary>
public sealed class ClusterEventsDisconnectTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    // Orleans' reports on the machine (a starved thread pool on a loaded CI runner), not on the followers.
    private static readonly HashSet<string> MachineHealth = ["Orleans.Runtime.MembershipService.LocalSiloHealthMonitor", "Orleans.Runtime.Watchdog"];

    [Fact]
    public async Task FollowersDisconnect_NothingLoggedAboveInformation()
    {
        using var dataDir = new TempDirectory("or-events-disconnect-");
        var logs = new RecordingLoggerProvider();
        await using var silo = await InProcessSilo.StartAsync(
            dataDir.Path,
            new Dictionary<string, string?> { ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information" },
            builder => builder.Logging.AddProvider(logs));
        var before = logs.Entries.Count;

        const int Followers = 5;
        for (var i = 0; i < Followers; i++)
        {
            using var response = await silo.Http.GetAsync("v1/cluster/events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            // Disposing the response mid-stream is the follower going away.
        }

        // Kestrel logs "Request finished" after the endpoint and anything it threw.
        await Wait.UntilAsync(
            () => logs.Entries.Skip(before).Count(e => e.Message.Contains("Request finished", StringComparison.Ordinal) && e.Message.Contains("/v1/cluster/events", StringComparison.Ordinal)) == Followers,
            Deadline,
            $"the {Followers} event streams to end on the silo");
        var problems = logs.Entries.Skip(before).Where(e => (e.Level > LogLevel.Information || e.Exception is not null) && !MachineHealth.Contains(e.Category)).ToList();
        Assert.True(problems.Count == 0, "Logged when followers went away: " + string.Join(Environment.NewLine, problems.Select(p => $"{p.Level} {p.Category}: {p.Message} {p.Exception?.GetType().Name}")));
    }
}
