using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using OrleansReplication.Client;
using OrleansReplication.Protocol;

namespace OrleansReplication.Tests.ClientApi;

/// <summary>
/// A write whose connection is lost before its reply is sent again with the same request id; the
/// next write gets the next id. The gateway here is scripted to drop the connection after reading
/// the first Apply: a real silo cannot be made to fail at exactly that point.
/// </summary>
public sealed class RequestIdRetryTests
{
    [Fact]
    public async Task WriteCutOffByLostConnection_IsSentAgainWithTheSameRequestId()
    {
        await using var gateway = new ScriptedGateway(dropFirstApply: true);
        await using var client = await ReplicationClient.ConnectAsync(new ReplicationClientOptions { Gateways = [gateway.Endpoint] });
        var replicator = client.GetReplicator<int>("ids");

        var first = await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey("a"), 1), KeyValuePair.Create(new ItemKey("b"), 2)]);
        await replicator.SetStateItemsAsync([KeyValuePair.Create(new ItemKey("a"), 3)]);

        Assert.Equal(["a", "b"], first.Select(r => r.Key.Id));
        var ids = gateway.ApplyIds;
        Assert.Equal(3, ids.Count);
        Assert.False(string.IsNullOrEmpty(ids[0].ClientId));
        Assert.Equal(ids[0], ids[1]);
        Assert.Equal(ids[0].ClientId, ids[2].ClientId);
        Assert.Equal(ids[0].Sequence + 1, ids[2].Sequence);
    }

    /// <summary>A one-partition-map gateway that answers Hello, GetPartitionMap and Apply, optionally dropping the connection at the first Apply.</summary>
    private sealed class ScriptedGateway : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accept;
        private readonly List<RequestId> _applyIds = [];
        private bool _dropNext;

        public ScriptedGateway(bool dropFirstApply)
        {
            _dropNext = dropFirstApply;
            _listener.Start();
            Endpoint = $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _accept = Task.Run(AcceptAsync);
        }

        public string Endpoint { get; }

        public List<RequestId> ApplyIds
        {
            get
            {
                lock (_applyIds)
                {
                    return [.. _applyIds];
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accept.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                _ = Task.Run(() => ServeAsync(socket));
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            using var stream = new NetworkStream(socket, ownsSocket: true);
            var input = PipeReader.Create(stream);
            var output = PipeWriter.Create(stream);
            try
            {
                while (true)
                {
                    var read = await input.ReadAsync(_stop.Token);
                    var buffer = read.Buffer;
                    while (FrameCodec.TryRead(ref buffer, FrameCodec.DefaultMaxFrameBytes, out var frame))
                    {
                        if (!Answer(frame, output))
                        {
                            return; // drop the connection without a reply
                        }
                    }

                    input.AdvanceTo(buffer.Start, buffer.End);
                    await output.FlushAsync(_stop.Token);
                    if (read.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // Test over or client gone.
            }
        }

        private bool Answer(Frame frame, PipeWriter output)
        {
            IMessage reply;
            MessageType type;
            switch (frame.Type)
            {
                case MessageType.Hello:
                    (type, reply) = (MessageType.HelloReply, new HelloReply { ProtocolVersion = FrameCodec.ProtocolVersion, SiloId = "scripted", PartitionCount = 1, MaxFrameBytes = (uint)FrameCodec.DefaultMaxFrameBytes });
                    break;
                case MessageType.GetPartitionMap:
                    (type, reply) = (MessageType.PartitionMapReply, new PartitionMapReply { PartitionCount = 1, Partitions = { new PartitionRoute { Id = 0, Epoch = 1, PrimarySilo = "scripted", PrimaryGateway = Endpoint } } });
                    break;
                case MessageType.Apply:
                    var apply = ApplyRequest.Parser.ParseFrom(frame.Body);
                    lock (_applyIds)
                    {
                        _applyIds.Add(apply.RequestId);
                        if (_dropNext)
                        {
                            _dropNext = false;
                            return false;
                        }
                    }

                    var results = new ApplyReply();
                    results.Results.AddRange(apply.Changes.Select(c => new ItemResult { Id = c.Id, Version = 1, Changed = true, Created = true }));
                    (type, reply) = (MessageType.ApplyReply, results);
                    break;
                default:
                    (type, reply) = (MessageType.Error, new ErrorReply { Code = ErrorCode.ErrorUnknownMessage, Message = "not scripted" });
                    break;
            }

            FrameCodec.Write(output, type, frame.CorrelationId, reply);
            return true;
        }
    }
}
