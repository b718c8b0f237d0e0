using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace OrleansReplication.Protocol;

/// <summary>
/// Length-prefixed frames: <c>uint32 length | uint8 type | uint64 correlation id | body</c>, little
/// endian, where length counts everything after itself. Pure: no sockets, testable on split buffers.
/// </summary>
public static class FrameCodec
{
    /// <summary>The protocol version both sides announce in <see cref="Hello"/>.</summary>
    public const uint ProtocolVersion = 1;

    /// <summary>Bytes before the body: 4 length + 1 type + 8 correlation id.</summary>
    public const int HeaderSize = 13;

    /// <summary>The default largest frame: a 1 MiB item base64-free in protobuf, plus room for batches.</summary>
    public const int DefaultMaxFrameBytes = 16 * 1024 * 1024;

    private const int LengthSize = 4;
    private const int TypeAndCorrelationSize = HeaderSize - LengthSize;

    /// <summary>Writes one frame into <paramref name="writer"/> with a single reservation.</summary>
    public static void Write(IBufferWriter<byte> writer, MessageType type, ulong correlationId, IMessage body)
    {
        var size = body.CalculateSize();
        var span = writer.GetSpan(HeaderSize + size);
        WriteHeader(span, type, correlationId, size);
        body.WriteTo(span.Slice(HeaderSize, size));
        writer.Advance(HeaderSize + size);
    }

    /// <summary>Writes a frame header for a body of <paramref name="bodySize"/> bytes into the first <see cref="HeaderSize"/> bytes of <paramref name="span"/>.</summary>
    public static void WriteHeader(Span<byte> span, MessageType type, ulong correlationId, int bodySize)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)(TypeAndCorrelationSize + bodySize));
        span[LengthSize] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(span[(LengthSize + 1)..], correlationId);
    }

    /// <summary>
    /// Reads one whole frame from the start of <paramref name="buffer"/>. Returns false when more
    /// bytes are needed; on success, slices <paramref name="buffer"/> past the frame.
    /// </summary>
    /// <exception cref="FrameTooLargeException">The announced length exceeds <paramref name="maxFrameBytes"/>; checked before anything is buffered.</exception>
    /// <exception cref="ProtocolException">The announced length is too short to hold a header.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out Frame frame)
    {
        frame = default;
        if (buffer.Length < HeaderSize)
        {
            // Still check the length prefix as soon as it is complete, so an oversized frame is
            // refused before the peer sends (and we buffer) its body.
            if (buffer.Length >= LengthSize)
            {
                CheckLength(ReadUInt32(buffer), maxFrameBytes);
            }

            return false;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        CheckLength(length, maxFrameBytes);
        if (buffer.Length < LengthSize + length)
        {
            return false;
        }

        var type = (MessageType)header[LengthSize];
        var correlationId = BinaryPrimitives.ReadUInt64LittleEndian(header[(LengthSize + 1)..]);
        var body = buffer.Slice(HeaderSize, length - TypeAndCorrelationSize);
        frame = new Frame(type, correlationId, body);
        buffer = buffer.Slice(LengthSize + length);
        return true;
    }

    /// <summary>Reads the correlation id of a frame whose header is complete, for answering a frame that is refused; 0 otherwise.</summary>
    public static ulong PeekCorrelationId(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < HeaderSize)
        {
            return 0;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        return BinaryPrimitives.ReadUInt64LittleEndian(header[(LengthSize + 1)..]);
    }

    private static uint ReadUInt32(ReadOnlySequence<byte> buffer)
    {
        Span<byte> prefix = stackalloc byte[LengthSize];
        buffer.Slice(0, LengthSize).CopyTo(prefix);
        return BinaryPrimitives.ReadUInt32LittleEndian(prefix);
    }

    private static void CheckLength(uint length, int maxFrameBytes)
    {
        if (length < TypeAndCorrelationSize)
        {
            throw new ProtocolException($"Malformed frame: announced length {length} is shorter than the {TypeAndCorrelationSize}-byte header.");
        }

        if (length > (uint)maxFrameBytes + TypeAndCorrelationSize)
        {
            throw new FrameTooLargeException(length, maxFrameBytes);
        }
    }
}

/// <summary>A frame announced a length over the limit; the connection cannot be resynchronized and is closed.</summary>
public sealed class FrameTooLargeException(uint announcedLength, int maxFrameBytes)
    : ReplicationException($"Frame of {announcedLength} bytes refused: the limit is {maxFrameBytes} bytes of body. Split the batch or raise MaxFrameBytes on both sides.")
{
    /// <summary>The length the peer announced.</summary>
    public uint AnnouncedLength { get; } = announcedLength;
}
