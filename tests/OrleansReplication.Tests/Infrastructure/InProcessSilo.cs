using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// A whole silo (<see cref="OrleansReplication.Silo.Hosting.SiloApplication"/>, the executable's web
/// application) running in the test process on free loopback ports, with an <see cref="HttpClient"/>
/// on its HTTP endpoint: for tests of one silo. Tests of several use <see cref="ReplicationCluster"/>
/// (Orleans' test cluster), and a crash needs a real process.
/// </summary>
/// <remarks>
/// Logs below Warning are filtered out (pass <c>Logging:LogLevel:Default</c> in the settings to
/// see more). Stopping the silo runs the real shutdown path: listeners close, queued writes
/// finish, the store is closed, so a new silo on the same data directory sees everything.
/// </remarks>
public sealed class InProcessSilo : IAsyncDisposable
{
    // A port found free can be taken by another process before Kestrel binds it; a few fresh
    // tries make that race practically impossible to lose.
    private const int StartAttempts = 3;
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);

    private bool _stopped;

    private InProcessSilo(WebApplication app, string dataDir, int httpPort, int gatewayPort, int siloPort)
    {
        App = app;
        DataDir = dataDir;
        HttpPort = httpPort;
        GatewayEndPoint = new IPEndPoint(IPAddress.Loopback, gatewayPort);
        SiloEndPoint = new IPEndPoint(IPAddress.Loopback, siloPort);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The silo's web application (its host).</summary>
    public WebApplication App { get; }

    /// <summary>The silo's services, e.g. to reach its <c>PartitionManager</c> in a test.</summary>
    public IServiceProvider Services => App.Services;

    /// <summary>An HTTP client whose base address is the silo's HTTP endpoint.</summary>
    public HttpClient Http { get; }

    /// <summary>The HTTP port.</summary>
    public int HttpPort { get; }

    /// <summary>The client gateway endpoint (framed protocol).</summary>
    public IPEndPoint GatewayEndPoint { get; }

    /// <summary>The silo-to-silo endpoint.</summary>
    public IPEndPoint SiloEndPoint { get; }

    /// <summary>The folder of the silo's SQLite store.</summary>
    public string DataDir { get; }

    /// <summary>Starts a silo on free loopback ports with its store in <paramref name="dataDir"/>.</summary>
    /// <param name="dataDir">The data directory (<c>Silo:DataDir</c>); reuse it to restart "the same" silo.</param>
    /// <param name="settings">More configuration (keys like <c>Silo:PartitionCount</c>); wins over the defaults set here.</param>
    public static Task<InProcessSilo> StartAsync(string dataDir, IReadOnlyDictionary<string, string?>? settings = null) =>
        StartAsync(dataDir, settings, configure: null);

    /// <summary>Starts a silo as <see cref="StartAsync(string, IReadOnlyDictionary{string, string?}?)"/>, letting <paramref name="configure"/> replace services first.</summary>
    public static async Task<InProcessSilo> StartAsync(string dataDir, IReadOnlyDictionary<string, string?>? settings, Action<WebApplicationBuilder>? configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        for (var attempt = 1; ; attempt++)
        {
            var ports = FreePorts.Take(3);
            var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
            {
                ["Silo:ListenAddress"] = "127.0.0.1",
                ["Silo:HttpPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
                ["Silo:GatewayPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
                ["Silo:SiloPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
                ["Silo:Instance"] = "0",
                ["Silo:DataDir"] = dataDir,
                ["Logging:LogLevel:Default"] = "Warning",
            };
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                overrides[key] = value;
            }

            var app = OrleansReplication.Silo.Hosting.SiloApplication.Create(overrides, configure);
            try
            {
                using var deadline = new CancellationTokenSource(StartDeadline);
                await app.StartAsync(deadline.Token);
                // Caller settings may pin ports (a restart on the same endpoints): report what was bound.
                int Port(string key) => int.Parse(overrides[key]!, CultureInfo.InvariantCulture);
                return new InProcessSilo(app, dataDir, Port("Silo:HttpPort"), Port("Silo:GatewayPort"), Port("Silo:SiloPort"));
            }
            catch (Exception ex) when (attempt < StartAttempts && IsAddressInUse(ex))
            {
                await app.DisposeAsync();
            }
            catch
            {
                await app.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Stops the silo gracefully (idempotent): listeners close, queued writes finish, the store closes.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        Http.Dispose();
        using var deadline = new CancellationTokenSource(StopDeadline);
        try
        {
            await App.StopAsync(deadline.Token);
        }
        finally
        {
            await App.DisposeAsync();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync();

    private static bool IsAddressInUse(Exception ex) =>
        ex is IOException { InnerException: SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } }
        || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase);
}
