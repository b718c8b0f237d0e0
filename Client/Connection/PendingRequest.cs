using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>A request waiting for its reply; parses the reply frame in the read loop (before its buffer is released).</summary>
internal abstract class PendingRequest
{
    public abstract void Complete(in Frame frame);

    public abstract void Fail(Exception exception);
}

/// <summary>A request whose reply is a <typeparamref name="TReply"/>.</summary>
internal sealed class PendingRequest<TReply>(MessageType replyType, MessageParser<TReply> parser) : PendingRequest
    where TReply : IMessage<TReply>
{
    private readonly TaskCompletionSource<TReply> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TReply> Task => _completion.Task;

    public override void Complete(in Frame frame)
    {
        try
        {
            if (frame.Type == replyType)
            {
                _completion.TrySetResult(parser.ParseFrom(frame.Body));
            }
            else if (frame.Type == MessageType.Error)
            {
                _completion.TrySetException(ErrorReplies.ToException(ErrorReply.Parser.ParseFrom(frame.Body)));
            }
            else
            {
                _completion.TrySetException(new ProtocolException($"Expected a {replyType} reply but got {frame.Type}."));
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            _completion.TrySetException(new ProtocolException($"Malformed {frame.Type} reply: {ex.Message}"));
        }
    }

    public override void Fail(Exception exception) => _completion.TrySetException(exception);
}
