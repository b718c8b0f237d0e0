using System.Diagnostics;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Listeners;

/// <summary>
/// A silo stopping (SIGTERM, a rolling restart) with watches open: each stream ends at once with an
/// error event that tells the watcher to resume elsewhere from its cursor, and the open streams do
/// not hold the silo's exit (they held it until the host's shutdown timeout).
/// </summary>
public sealed class WatchSiloStopTests : IDisposable
{
    private readonly TempDirectory _dataDir = new("or-watch-stop-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task SiloStops_OpenWatchesEndWithAResumableErrorAndDoNotHoldTheExit()
    {
        var silo = await InProcessSilo.StartAsync(_dataDir.Path);
        try
        {
            using (var put = await silo.Http.PutAsync("v1/components/watch-stop/items/a", new StringContent("1", System.Text.Encoding.UTF8, "application/json")))
            {
                put.EnsureSuccessStatusCode();
            }

            await using var first = await SseStream.OpenAsync(silo.Http, "v1/components/watch-stop/watch");
            await using var second = await SseStream.OpenAsync(silo.Http, "v1/components/watch-stop/watch?prefix=a");
            foreach (var stream in new[] { first, second })
            {
                while ((await stream.ReadAsync())?.Type is not "snapshot-end" and not null)
                {
                }
            }

            var clock = Stopwatch.StartNew();
            await silo.StopAsync();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the silo took {clock.Elapsed.TotalSeconds:0.0} s to stop with two watches open");

            foreach (var stream in new[] { first, second })
            {
                var ended = await stream.ReadAsync();
                Assert.NotNull(ended);
                Assert.Equal("error", ended.Type);
                Assert.Equal("unavailable", ended.Data.GetProperty("type").GetString());
                Assert.Contains("stopping", ended.Data.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }
}
