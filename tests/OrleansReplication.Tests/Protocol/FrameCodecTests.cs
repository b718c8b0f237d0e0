using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Tests.Protocol;

/// <summary>The frame codec on its own, over contiguous and split buffers: no sockets.</summary>
public sealed class FrameCodecTests
{
    private const int MaxFrame = 1024 * 1024;

    [Fact]
    public void TryRead_FrameWrittenByWrite_RoundTrips()
    {
        var request = SampleRequest();
        var bytes = Encode(MessageType.Apply, 0xFEDC_BA98_7654_3210UL, request);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameCodec.TryRead(ref buffer, MaxFrame, out var frame));

        Assert.Equal(MessageType.Apply, frame.Type);
        Assert.Equal(0xFEDC_BA98_7654_3210UL, frame.CorrelationId);
        Assert.Equal(request, ApplyRequest.Parser.ParseFrom(frame.Body));
        Assert.True(buffer.IsEmpty);
        Assert.Equal((uint)(bytes.Length - 4), BinaryPrimitives.ReadUInt32LittleEndian(bytes));
    }

    [Fact]
    public void TryRead_EmptyBody_RoundTrips()
    {
        var buffer = new ReadOnlySequence<byte>(Encode(MessageType.Ping, 7, new Ping()));

        Assert.True(FrameCodec.TryRead(ref buffer, MaxFrame, out var frame));

        Assert.Equal(MessageType.Ping, frame.Type);
        Assert.Equal(7UL, frame.CorrelationId);
        Assert.True(frame.Body.IsEmpty);
    }

    [Fact]
    public void TryRead_FrameSplitIntoOneByteSegments_Decodes()
    {
        var request = SampleRequest();
        var buffer = SequenceBuilder.ByteByByte(Encode(MessageType.Apply, 42, request));
        Assert.False(buffer.IsSingleSegment);

        Assert.True(FrameCodec.TryRead(ref buffer, MaxFrame, out var frame));

        Assert.Equal(42UL, frame.CorrelationId);
        Assert.Equal(request, ApplyRequest.Parser.ParseFrom(frame.Body));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryRead_TwoFramesInUnevenSegments_DecodesBothInOrder()
    {
        var bytes = Encode(MessageType.Get, 1, new GetRequest { Component = "c", Items = { new ItemRef { Id = "x" } } })
            .Concat(Encode(MessageType.List, 2, new ListRequest { Component = "c", Limit = 10 }))
            .ToArray();
        var chunks = new List<ReadOnlyMemory<byte>>();
        for (int at = 0, size = 1; at < bytes.Length; at += size, size = size % 7 + 2)
        {
            chunks.Add(new ReadOnlyMemory<byte>(bytes, at, Math.Min(size, bytes.Length - at)));
        }

        var buffer = SequenceBuilder.FromChunks(chunks);

        Assert.True(FrameCodec.TryRead(ref buffer, MaxFrame, out var first));
        Assert.Equal((MessageType.Get, 1UL), (first.Type, first.CorrelationId));
        Assert.Equal("x", GetRequest.Parser.ParseFrom(first.Body).Items[0].Id);
        Assert.True(FrameCodec.TryRead(ref buffer, MaxFrame, out var second));
        Assert.Equal((MessageType.List, 2UL), (second.Type, second.CorrelationId));
        Assert.Equal(10u, ListRequest.Parser.ParseFrom(second.Body).Limit);
        Assert.False(FrameCodec.TryRead(ref buffer, MaxFrame, out _));
    }

    [Fact]
    public void TryRead_EveryPrefixOfAFrame_ReturnsFalseAndLeavesBufferAlone()
    {
        var bytes = Encode(MessageType.Apply, 9, SampleRequest());
        for (var length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);

            Assert.False(FrameCodec.TryRead(ref buffer, MaxFrame, out _), $"A {length}-byte prefix of a {bytes.Length}-byte frame was decoded.");
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public void TryRead_OversizedLengthPrefixAlone_ThrowsFrameTooLargeBeforeBody()
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, MaxFrame + 13 + 1);
        var buffer = new ReadOnlySequence<byte>(prefix);

        var error = Assert.Throws<FrameTooLargeException>(() => FrameCodec.TryRead(ref buffer, MaxFrame, out _));

        Assert.Equal((uint)(MaxFrame + 13 + 1), error.AnnouncedLength);
    }

    [Fact]
    public void TryRead_OversizedLengthPrefixSplitOverSegments_ThrowsOnceFourBytesArrive()
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, uint.MaxValue);

        var three = SequenceBuilder.ByteByByte(prefix[..3]);
        Assert.False(FrameCodec.TryRead(ref three, MaxFrame, out _));

        var four = SequenceBuilder.ByteByByte(prefix);
        Assert.Throws<FrameTooLargeException>(() => FrameCodec.TryRead(ref four, MaxFrame, out _));
    }

    [Fact]
    public void TryRead_BodyOfExactlyMaxFrameBytes_IsAccepted()
    {
        const int max = 64;
        var header = new byte[FrameCodec.HeaderSize + max];
        FrameCodec.WriteHeader(header, MessageType.Ping, 3, max);
        var buffer = new ReadOnlySequence<byte>(header);

        Assert.True(FrameCodec.TryRead(ref buffer, max, out var frame));
        Assert.Equal(max, frame.Body.Length);

        var over = new byte[FrameCodec.HeaderSize];
        FrameCodec.WriteHeader(over, MessageType.Ping, 3, max + 1);
        var overBuffer = new ReadOnlySequence<byte>(over);
        Assert.Throws<FrameTooLargeException>(() => FrameCodec.TryRead(ref overBuffer, max, out _));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(5u)]
    [InlineData(8u)]
    public void TryRead_LengthShorterThanHeader_ThrowsProtocolException(uint length)
    {
        var bytes = new byte[FrameCodec.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, length);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref buffer, MaxFrame, out _));

        var prefixOnly = new ReadOnlySequence<byte>(bytes, 0, 4);
        Assert.Throws<ProtocolException>(() => FrameCodec.TryRead(ref prefixOnly, MaxFrame, out _));
    }

    [Fact]
    public void PeekCorrelationId_CompleteHeader_ReturnsIdAndZeroOtherwise()
    {
        var bytes = Encode(MessageType.Get, 123456789, new GetRequest());

        Assert.Equal(123456789UL, FrameCodec.PeekCorrelationId(SequenceBuilder.ByteByByte(bytes)));
        Assert.Equal(0UL, FrameCodec.PeekCorrelationId(new ReadOnlySequence<byte>(bytes, 0, FrameCodec.HeaderSize - 1)));
    }

    [Fact]
    public void TryRead_UnknownTypeByte_IsDecodedForTheCallerToRefuse()
    {
        var bytes = Encode((MessageType)200, 5, new Ping());
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameCodec.TryRead(ref buffer, MaxFrame, out var frame));

        Assert.Equal((MessageType)200, frame.Type);
        Assert.Equal(5UL, frame.CorrelationId);
    }

    private static ApplyRequest SampleRequest() => new()
    {
        Component = "orders",
        Safety = Safety.Durable,
        Changes =
        {
            new ItemChange { Id = "o-1", Value = ByteString.CopyFromUtf8("{\"qty\":3,\"name\":\"Ünïcødé\"}"), ExpectedVersion = 4 },
            new ItemChange { Id = "o-2", PartitionKey = "tenant-1", Remove = true, ExpectedVersion = -1 },
        },
    };

    private static byte[] Encode(MessageType type, ulong correlationId, IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(writer, type, correlationId, message);
        return writer.WrittenSpan.ToArray();
    }
}
