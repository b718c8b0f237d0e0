using System.Net;
using System.Text;
using System.Text.Json;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

// Not ".Process": a namespace of that name would hide System.Diagnostics.Process in every OrleansReplication.Tests.* file.
namespace OrleansReplication.Tests.Processes;

/// <summary>The silo executable as operators run it: a real process, killed with SIGKILL, started again on its data.</summary>
public sealed class SiloProcessTests : IDisposable
{
    private readonly TempDirectory _dataDir = new("or-proc-");

    public void Dispose() => _dataDir.Dispose();

    [Fact]
    public async Task SiloProcess_ServeKillRestart_ItemSurvivesWithItsVersion()
    {
        const string json = "{\"order\":1,\"lines\":[\"a\",\"b\"]}";
        string etag;
        await using (var silo = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8", "--silo-id", "proc-silo"))
        {
            var why = silo.Describe;
            using var put = await silo.Http.PutAsync("v1/components/proc/items/o-1", Json(json));
            Assert.True(put.StatusCode == HttpStatusCode.Created, $"PUT answered {(int)put.StatusCode}.{why()}");
            etag = put.Headers.ETag!.ToString();

            using var get = await silo.Http.GetAsync("v1/components/proc/items/o-1");
            Assert.Equal(json, await get.Content.ReadAsStringAsync());
            Assert.Equal(etag, get.Headers.ETag?.ToString());

            using var update = await silo.Http.PutAsync("v1/components/proc/items/o-1", Json("{\"order\":1,\"v\":2}"));
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
            var current = update.Headers.ETag!.ToString();

            using var staleRequest = new HttpRequestMessage(HttpMethod.Put, "v1/components/proc/items/o-1") { Content = Json("{}") };
            staleRequest.Headers.TryAddWithoutValidation("If-Match", etag);
            using var stale = await silo.Http.SendAsync(staleRequest);
            Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
            var problem = JsonDocument.Parse(await stale.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(current.Trim('"'), problem.GetProperty("currentVersion").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture));

            using var large = await silo.Http.PutAsync("v1/components/proc/items/big", Json("\"" + new string('x', 2 * 1024 * 1024) + "\""));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
            Assert.Equal("application/problem+json", large.Content.Headers.ContentType?.MediaType);

            using var badName = await silo.Http.PutAsync("v1/components/bad%20name/items/x", Json("1"));
            Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);

            etag = current;
            await silo.KillAsync();
            Assert.True(silo.HasExited);
        }

        // The same silo id, as an operator restarts it: the new incarnation retires the killed one at once.
        await using var restarted = await SiloProcess.StartAsync(_dataDir.Path, "--partitions", "8", "--silo-id", "proc-silo");
        using var again = await restarted.Http.GetAsync("v1/components/proc/items/o-1");

        Assert.True(again.StatusCode == HttpStatusCode.OK, $"GET after SIGKILL and restart answered {(int)again.StatusCode}.{restarted.Describe()}");
        Assert.Equal("{\"order\":1,\"v\":2}", await again.Content.ReadAsStringAsync());
        Assert.Equal(etag, again.Headers.ETag?.ToString());

        var exitCode = await restarted.StopAsync();
        Assert.True(exitCode == 0, $"SIGTERM should stop the silo cleanly.{restarted.Describe()}");
    }

    [Fact]
    public async Task SiloProcess_InvalidStorageOption_ExitsNonZeroNamingTheSetting()
    {
        await using var silo = SiloProcess.Launch(_dataDir.Path, "--storage", "bogus");

        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exitCode != 0, $"The silo accepted --storage bogus.{silo.Describe()}");
        Assert.Contains("Silo:Storage", silo.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SiloProcess_SiloPortTaken_ExitsWithOneLineNamingThePortBeforeJoining()
    {
        var instance = SiloPorts.FindFreeInstance();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, SiloPorts.BaseSiloPort + instance);
        taken.Start();
        await using var silo = SiloProcess.Launch(new SiloLaunchOptions { DataDir = _dataDir.Path, Instance = instance });

        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 3, $"A taken silo port should end the silo with exit code 3.{silo.Describe()}");
        var error = silo.StandardError.Trim();
        Assert.Equal($"The silo port (--silo-port) 127.0.0.1:{SiloPorts.BaseSiloPort + instance} is already in use (AddressAlreadyInUse). Stop the other process or start this silo with another --instance.", error);
        Assert.DoesNotContain("membership", silo.StandardOutput, StringComparison.OrdinalIgnoreCase);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
