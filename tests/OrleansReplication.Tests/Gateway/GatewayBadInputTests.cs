using System.Buffers.Binary;
using System.Net;
using Google.Protobuf;
using OrleansReplication.Protocol;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Gateway;

/// <summary>
/// The gateway against a real in-process silo, spoken to frame by frame: bad input gets a typed
/// error and changes nothing; only a frame that breaks framing closes (just) its connection.
/// </summary>
public sealed class GatewayBadInputTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private InProcessSilo Silo => fixture.Silo;

    [Fact]
    public async Task Handshake_CurrentVersion_RepliesHelloReplyWithPartitionCountAndLimits()
    {
        await using var connection = await RawGatewayConnection.ConnectAsync(Silo.GatewayEndPoint);

        var reply = await connection.HelloAsync();

        Assert.Equal(MessageType.HelloReply, reply.Type);
        Assert.Equal(1UL, reply.CorrelationId);
        var hello = reply.Parse(HelloReply.Parser);
        Assert.Equal(FrameCodec.ProtocolVersion, hello.ProtocolVersion);
        Assert.Equal((uint)SiloFixture.PartitionCount, hello.PartitionCount);
        Assert.Equal(1024u * 1024, hello.MaxItemBytes);
        Assert.Equal((uint)FrameCodec.DefaultMaxFrameBytes, hello.MaxFrameBytes);
        Assert.False(string.IsNullOrEmpty(hello.SiloId));
    }

    [Fact]
    public async Task Handshake_WrongProtocolVersion_ErrorThenConnectionClosed()
    {
        await using var connection = await RawGatewayConnection.ConnectAsync(Silo.GatewayEndPoint);

        var reply = await connection.HelloAsync(protocolVersion: 99);

        var error = reply.AsError();
        Assert.Equal(ErrorCode.ErrorProtocol, error.Code);
        Assert.Contains("99", error.Message, StringComparison.Ordinal);
        Assert.Empty(await connection.AssertClosedAsync());
    }

    [Fact]
    public async Task Handshake_FirstFrameNotHello_ErrorThenConnectionClosed()
    {
        await using var connection = await RawGatewayConnection.ConnectAsync(Silo.GatewayEndPoint);

        await connection.SendAsync(MessageType.Get, 5, new GetRequest { Component = "gw", Items = { new ItemRef { Id = "x" } } });
        var reply = await connection.ReceiveAsync();

        Assert.Equal(5UL, reply.CorrelationId);
        Assert.Equal(ErrorCode.ErrorProtocol, reply.AsError().Code);
        Assert.Empty(await connection.AssertClosedAsync());
    }

    [Fact]
    public async Task UnknownMessageType_ErrorUnknownMessageWithSameCorrelationIdAndConnectionStillWorks()
    {
        await using var connection = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);

        var reply = await connection.RequestAsync((MessageType)99, 77, new Ping { Timestamp = 1 });

        Assert.Equal(ErrorCode.ErrorUnknownMessage, reply.AsError().Code);
        await AssertServesAsync(connection, 78);
    }

    [Fact]
    public async Task MalformedBody_ErrorProtocolWithSameCorrelationIdAndConnectionStillWorks()
    {
        await using var connection = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);

        // Field 1 (component) announces 5 bytes of string but only one follows: truncated protobuf.
        byte[] body = [0x0A, 0x05, 0x61];
        var frame = new byte[FrameCodec.HeaderSize + body.Length];
        FrameCodec.WriteHeader(frame, MessageType.Apply, 300, body.Length);
        body.CopyTo(frame, FrameCodec.HeaderSize);
        await connection.SendRawAsync(frame);
        var reply = await connection.ReceiveAsync();

        Assert.Equal(300UL, reply.CorrelationId);
        Assert.Equal(ErrorCode.ErrorProtocol, reply.AsError().Code);
        await AssertServesAsync(connection, 301);
    }

    [Fact]
    public async Task OversizedFrame_ErrorAndThatConnectionClosedWhileAnotherKeepsWorking()
    {
        await using var other = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);
        await using var offender = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);

        // Only the header: the silo must refuse on the length alone, without waiting for 16 MiB.
        var header = new byte[FrameCodec.HeaderSize];
        FrameCodec.WriteHeader(header, MessageType.Apply, 400, FrameCodec.DefaultMaxFrameBytes + 1);
        await offender.SendRawAsync(header);

        var trailing = await offender.AssertClosedAsync();
        var error = Assert.Single(trailing).AsError();
        Assert.Equal(ErrorCode.ErrorTooLarge, error.Code);
        Assert.Contains("limit", error.Message, StringComparison.OrdinalIgnoreCase);
        await AssertServesAsync(other, 401);
    }

    [Fact]
    public async Task LengthShorterThanHeader_ErrorAndConnectionClosed()
    {
        await using var connection = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);
        var frame = new byte[FrameCodec.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 3);

        await connection.SendRawAsync(frame);

        var error = Assert.Single(await connection.AssertClosedAsync()).AsError();
        Assert.Equal(ErrorCode.ErrorProtocol, error.Code);
    }

    [Fact]
    public async Task ConnectionCutMidFrame_NothingAppliedAndSiloKeepsServing()
    {
        const string component = "gw-cut";
        var apply = RawGatewayConnection.Encode(MessageType.Apply, 500, new ApplyRequest
        {
            Component = component,
            Changes = { new ItemChange { Id = "half", Value = ByteString.CopyFromUtf8("{\"x\":\"" + new string('y', 4000) + "\"}"), ExpectedVersion = -1 } },
        });
        await using (var cut = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint))
        {
            await cut.SendRawAsync(apply[..(apply.Length / 2)]);
            cut.Abort();
        }

        await using var next = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);
        var reply = await next.RequestAsync(MessageType.Apply, 501, SetRequest(component, "after", "1"));
        Assert.Equal(MessageType.ApplyReply, reply.Type);

        using var half = await Silo.Http.GetAsync($"v1/components/{component}/items/half");
        Assert.Equal(HttpStatusCode.NotFound, half.StatusCode);
        using var after = await Silo.Http.GetAsync($"v1/components/{component}/items/after");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Theory]
    [InlineData("component", ErrorCode.ErrorInvalidArgument)]
    [InlineData("empty-id", ErrorCode.ErrorInvalidArgument)]
    [InlineData("long-id", ErrorCode.ErrorInvalidArgument)]
    [InlineData("control-id", ErrorCode.ErrorInvalidArgument)]
    [InlineData("too-large", ErrorCode.ErrorTooLarge)]
    [InlineData("invalid-json", ErrorCode.ErrorInvalidArgument)]
    [InlineData("two-values", ErrorCode.ErrorInvalidArgument)]
    [InlineData("bad-expected-version", ErrorCode.ErrorInvalidArgument)]
    [InlineData("empty-client-id", ErrorCode.ErrorInvalidArgument)]
    [InlineData("long-client-id", ErrorCode.ErrorInvalidArgument)]
    public async Task Apply_InvalidChange_TypedErrorAndNothingOfTheRequestApplied(string problem, ErrorCode expected)
    {
        const string component = "gw-invalid";
        var good = new ItemChange { Id = "ok-" + problem, Value = ByteString.CopyFromUtf8("{\"fine\":true}"), ExpectedVersion = -1 };
        var bad = new ItemChange { Id = "bad-" + problem, Value = ByteString.CopyFromUtf8("{}"), ExpectedVersion = -1 };
        var request = new ApplyRequest { Component = component };
        switch (problem)
        {
            case "component":
                request.Component = "bad name";
                break;
            case "empty-id":
                bad.Id = string.Empty;
                break;
            case "long-id":
                bad.Id = new string('i', StateNames.MaxIdBytes + 1);
                break;
            case "control-id":
                bad.Id = "tab\there";
                break;
            case "too-large":
                bad.Value = ByteString.CopyFromUtf8("\"" + new string('a', 1024 * 1024) + "\"");
                break;
            case "invalid-json":
                bad.Value = ByteString.CopyFromUtf8("{\"a\":");
                break;
            case "two-values":
                bad.Value = ByteString.CopyFromUtf8("1 2");
                break;
            case "bad-expected-version":
                bad.ExpectedVersion = -3;
                break;
            case "empty-client-id":
                request.RequestId = new RequestId { Sequence = 1 };
                break;
            case "long-client-id":
                request.RequestId = new RequestId { ClientId = new string('c', 201), Sequence = 1 };
                break;
        }

        request.Changes.Add(good);
        request.Changes.Add(bad);
        await using var connection = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);

        var reply = await connection.RequestAsync(MessageType.Apply, 600, request);

        Assert.Equal(expected, reply.AsError().Code);
        var get = await connection.RequestAsync(MessageType.Get, 601, new GetRequest { Component = component, Items = { new ItemRef { Id = good.Id } } });
        Assert.Empty(get.Parse(GetReply.Parser).Items);
    }

    [Fact]
    public async Task Pipelining_ManyRequestsInOneWrite_EachAnsweredOnceWithItsCorrelationId()
    {
        const string component = "gw-pipe";
        const int requests = 300;
        await using var connection = await RawGatewayConnection.OpenAsync(Silo.GatewayEndPoint);
        var expectedType = new Dictionary<ulong, MessageType>();
        var all = new List<byte>();
        for (ulong id = 1000; id < 1000 + requests; id++)
        {
            (MessageType Request, MessageType Reply, IMessage Body) call = (id % 3) switch
            {
                0 => (MessageType.Apply, MessageType.ApplyReply, SetRequest(component, $"p-{id}", id.ToString(System.Globalization.CultureInfo.InvariantCulture))),
                1 => (MessageType.Get, MessageType.GetReply, new GetRequest { Component = component, Items = { new ItemRef { Id = $"p-{id - 1}" } } }),
                _ => (MessageType.Ping, MessageType.Pong, new Ping { Timestamp = (long)id }),
            };
            expectedType[id] = call.Reply;
            all.AddRange(RawGatewayConnection.Encode(call.Request, id, call.Body));
        }

        await connection.SendRawAsync([.. all]);
        var answered = new HashSet<ulong>();
        for (var i = 0; i < requests; i++)
        {
            var reply = await connection.ReceiveAsync();
            Assert.True(expectedType.TryGetValue(reply.CorrelationId, out var type), $"Reply with unknown correlation id {reply.CorrelationId}.");
            Assert.True(answered.Add(reply.CorrelationId), $"Correlation id {reply.CorrelationId} was answered twice.");
            Assert.Equal(type, reply.Type);
            if (reply.Type == MessageType.Pong)
            {
                Assert.Equal((long)reply.CorrelationId, reply.Parse(Ping.Parser).Timestamp);
            }
            else if (reply.Type == MessageType.ApplyReply)
            {
                Assert.Equal($"p-{reply.CorrelationId}", Assert.Single(reply.Parse(ApplyReply.Parser).Results).Id);
            }
        }

        Assert.Equal(requests, answered.Count);
        var check = await connection.RequestAsync(MessageType.List, 5000, new ListRequest { Component = component, Limit = 1000 });
        Assert.Equal(requests / 3, check.Parse(ListReply.Parser).Items.Count);
    }

    private static ApplyRequest SetRequest(string component, string id, string json) => new()
    {
        Component = component,
        Changes = { new ItemChange { Id = id, Value = ByteString.CopyFromUtf8(json), ExpectedVersion = -1 } },
    };

    private static async Task AssertServesAsync(RawGatewayConnection connection, ulong correlationId)
    {
        var reply = await connection.RequestAsync(MessageType.Get, correlationId, new GetRequest { Component = "gw-alive", Items = { new ItemRef { Id = "nothing" } } });
        Assert.Equal(MessageType.GetReply, reply.Type);
        Assert.Empty(reply.Parse(GetReply.Parser).Items);
    }
}
