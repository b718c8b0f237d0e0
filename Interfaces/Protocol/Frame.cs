using System.Buffers;

namespace OrleansReplication.Protocol;

/// <summary>
/// One decoded frame. <see cref="Body"/> points into the reader's buffer: parse it before the
/// reader advances past it, and never keep it.
/// </summary>
/// <param name="Type">The message type byte (may be a value this build does not know).</param>
/// <param name="CorrelationId">Matches a reply to its request; 0 for one-way frames.</param>
/// <param name="Body">The protobuf body.</param>
public readonly record struct Frame(MessageType Type, ulong CorrelationId, ReadOnlySequence<byte> Body);
