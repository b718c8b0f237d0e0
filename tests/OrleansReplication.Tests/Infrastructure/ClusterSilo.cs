using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using OrleansReplication.Silo.Hosting;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>One silo of a <see cref="ReplicationCluster"/>: its Orleans test-cluster handle, its services, and an <see cref="HttpClient"/> on its HTTP API.</summary>
public sealed class ClusterSilo : IDisposable
{
    internal ClusterSilo(InProcessSiloHandle handle)
    {
        Handle = handle;
        HttpPort = handle.ServiceProvider.GetRequiredService<IOptions<SiloOptions>>().Value.HttpPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Orleans' handle on the silo (to stop or restart it through the test cluster).</summary>
    public InProcessSiloHandle Handle { get; }

    /// <summary>The silo's name in Orleans, which is its id here (<c>Secondary_1</c>...).</summary>
    public string Name => Handle.Name;

    /// <summary>The silo's services, e.g. to reach its <c>PartitionManager</c> in a test.</summary>
    public IServiceProvider Services => Handle.ServiceProvider;

    /// <summary>An HTTP client whose base address is the silo's HTTP endpoint.</summary>
    public HttpClient Http { get; }

    /// <summary>The HTTP port.</summary>
    public int HttpPort { get; }

    /// <summary>The client gateway endpoint.</summary>
    public IPEndPoint GatewayEndPoint => Handle.GatewayAddress.Endpoint;

    /// <summary>The silo-to-silo endpoint.</summary>
    public IPEndPoint SiloEndPoint => Handle.SiloAddress.Endpoint;

    /// <summary>Whether the silo was stopped.</summary>
    public bool IsStopped => !Handle.IsActive;

    /// <inheritdoc />
    public void Dispose() => Http.Dispose();

    /// <summary>How many partitions <paramref name="silo"/> leads in this silo's view (<c>GET v1/cluster/partitions</c>).</summary>
    public async Task<int> PartitionsLedByAsync(string silo) =>
        (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<System.Text.Json.JsonElement>(Http, "v1/cluster/partitions"))
            .GetProperty("partitions").EnumerateArray().Count(p => p.GetProperty("primary").GetString() == silo);

    /// <inheritdoc />
    public override string ToString() => Name;
}
