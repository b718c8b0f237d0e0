using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using OrleansReplication.Protocol;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Transport;
using OrleansReplication.Tests.Gateway;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Transport;

/// <summary>Two real silos on loopback: the outbound pool of one reaches the silo port of the other, and frames flow both ways.</summary>
public sealed class SiloTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _dirA = new("or-transport-a-");
    private readonly TempDirectory _dirB = new("or-transport-b-");
    private readonly Channel<(string From, ReplicationAck Ack)> _receivedByA = Channel.CreateUnbounded<(string, ReplicationAck)>();
    private readonly Channel<(string From, ReplicationAck Ack)> _receivedByB = Channel.CreateUnbounded<(string, ReplicationAck)>();
    private InProcessSilo _a = null!;
    private InProcessSilo _b = null!;

    public async Task InitializeAsync()
    {
        _a = await StartWithAckRecorderAsync(_dirA.Path, "a", _receivedByA, echo: false);
        _b = await StartWithAckRecorderAsync(_dirB.Path, "b", _receivedByB, echo: true);
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        _dirA.Dispose();
        _dirB.Dispose();
    }

    [Fact]
    public async Task Send_FrameToPeer_RoutedThereAndAnswerRoutedBack()
    {
        var pool = _a.Services.GetRequiredService<SiloConnectionPool>();
        var connection = await pool.GetAsync(await AddressOfAsync(_b), Endpoint(_b), default);

        Assert.True(connection.TrySend(MessageType.List, 0, new ReplicationAck { Partition = 3, Epoch = 2, AppliedSequence = 41 }));

        var (from, ack) = await _receivedByB.Reader.ReadAsync().AsTask().WaitAsync(Deadline);
        Assert.Equal((await AddressOfAsync(_a)).ToString(), from);
        Assert.Equal(41, ack.AppliedSequence);
        var (echoFrom, echo) = await _receivedByA.Reader.ReadAsync().AsTask().WaitAsync(Deadline);
        Assert.Equal((await AddressOfAsync(_b)).ToString(), echoFrom);
        Assert.Equal(42, echo.AppliedSequence);
        Assert.Same(connection, await pool.GetAsync(await AddressOfAsync(_b), Endpoint(_b), default));
    }

    [Fact]
    public async Task GetAsync_EndpointHostsAnotherIncarnation_Refused()
    {
        var pool = _a.Services.GetRequiredService<SiloConnectionPool>();
        var real = await AddressOfAsync(_b);

        var error = await Assert.ThrowsAsync<ReplicaUnavailableException>(() => pool.GetAsync(real with { Incarnation = real.Incarnation - 1 }, Endpoint(_b), default));

        Assert.Contains(real.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAsync_NothingListens_TypedUnavailable()
    {
        var pool = _a.Services.GetRequiredService<SiloConnectionPool>();
        var port = FreePorts.Take(1)[0];

        await Assert.ThrowsAsync<ReplicaUnavailableException>(() => pool.GetAsync(new SiloIncarnation("ghost", 1), $"127.0.0.1:{port}", default));
    }

    [Fact]
    public async Task SiloPort_ClientHello_RefusedWithErrorAndClosed()
    {
        await using var raw = await RawGatewayConnection.ConnectAsync(_b.SiloEndPoint);
        await raw.SendAsync(MessageType.Hello, 5, new Hello { ProtocolVersion = FrameCodec.ProtocolVersion, ClientId = "client" });

        var error = Assert.Single(await raw.AssertClosedAsync()).AsError();

        Assert.Equal(ErrorCode.ErrorProtocol, error.Code);
        Assert.Contains("SiloHello", error.Message, StringComparison.Ordinal);
    }

    private static string Endpoint(InProcessSilo silo) => $"127.0.0.1:{silo.SiloEndPoint.Port}";

    private static async Task<SiloIncarnation> AddressOfAsync(InProcessSilo silo) =>
        SiloIncarnation.Parse((await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!);

    private static Task<InProcessSilo> StartWithAckRecorderAsync(string dir, string id, Channel<(string, ReplicationAck)> received, bool echo)
    {
        // The router is built here with a test handler on a type the product does not route between
        // silos (List: gateway only), and replaces the silo's own; the product registers its handlers on it too.
        var router = new SiloMessageRouter();
        router.Register(MessageType.List, (FramedConnection connection, in Frame frame) =>
        {
            var ack = ReplicationAck.Parser.ParseFrom(frame.Body);
            received.Writer.TryWrite((connection.Peer!.ToString()!, ack));
            if (echo)
            {
                connection.TrySend(MessageType.List, 0, new ReplicationAck { Partition = ack.Partition, Epoch = ack.Epoch, AppliedSequence = ack.AppliedSequence + 1 });
            }
        });
        return InProcessSilo.StartAsync(dir, new Dictionary<string, string?> { ["Silo:SiloId"] = id, ["Silo:PartitionCount"] = "4" }, b => b.Services.AddSingleton(router));
    }
}
