using System.Buffers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Bench.Micro;

/// <summary>Frame encode / decode of a one-item apply request (the client-to-gateway hot path).</summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _writer = new(4096);
    private ApplyRequest _request = null!;
    private byte[] _encoded = [];

    [GlobalSetup]
    public void Setup()
    {
        _request = new ApplyRequest { Component = "w1", Safety = Safety.Applied };
        _request.Changes.Add(new ItemChange { Id = "item:12345", Value = ByteString.CopyFrom(new byte[344]) });
        FrameCodec.Write(_writer, MessageType.Apply, 42, _request);
        _encoded = _writer.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int Encode()
    {
        _writer.ResetWrittenCount();
        FrameCodec.Write(_writer, MessageType.Apply, 42, _request);
        return _writer.WrittenCount;
    }

    [Benchmark]
    public int Decode()
    {
        var buffer = new ReadOnlySequence<byte>(_encoded);
        return FrameCodec.TryRead(ref buffer, 1 << 20, out var frame) ? ApplyRequest.Parser.ParseFrom(frame.Body).Changes.Count : 0;
    }
}
