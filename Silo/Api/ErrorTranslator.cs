using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Silo.Api;

/// <summary>Turns typed exceptions into wire error replies (the HTTP API has its own problem+json mapping).</summary>
internal static class ErrorTranslator
{
    public static ErrorReply ToErrorReply(Exception exception)
    {
        var reply = new ErrorReply { Message = exception.Message };
        switch (exception)
        {
            case InvalidRequestException:
                reply.Code = ErrorCode.ErrorInvalidArgument;
                break;
            case ItemTooLargeException:
                reply.Code = ErrorCode.ErrorTooLarge;
                break;
            case VersionConflictException conflict:
                reply.Code = ErrorCode.ErrorVersionConflict;
                foreach (var c in conflict.Conflicts)
                {
                    reply.Conflicts.Add(new Conflict { Id = c.Key.Id, PartitionKey = c.Key.PartitionKey ?? string.Empty, ExpectedVersion = c.Expected.Value, CurrentVersion = c.CurrentVersion });
                }

                foreach (var r in conflict.Applied)
                {
                    reply.Applied.Add(ToProto(r));
                }

                break;
            case PartitionMovedException moved:
                reply.Code = ErrorCode.ErrorNotPrimary;
                reply.Partition = (uint)moved.Partition;
                reply.PrimaryGateway = moved.PrimaryGatewayEndpoint ?? string.Empty;
                reply.PrimaryHttp = moved.PrimaryHttpEndpoint ?? string.Empty;
                break;
            case ReplicaUnavailableException unavailable:
                reply.Code = ErrorCode.ErrorUnavailable;
                reply.RetryAfterMs = (uint)Math.Clamp(unavailable.RetryAfter.TotalMilliseconds, 0, uint.MaxValue);
                break;
            case ProtocolException or InvalidProtocolBufferException:
                reply.Code = ErrorCode.ErrorProtocol;
                break;
            default:
                reply.Code = ErrorCode.ErrorInternal;
                reply.Message = "Internal error in the silo; it was logged. Retry, and report it if it persists: " + exception.GetType().Name;
                break;
        }

        return reply;
    }

    public static ItemResult ToProto(WriteResult result) => new()
    {
        Id = result.Key.Id,
        PartitionKey = result.Key.PartitionKey ?? string.Empty,
        Version = result.Version,
        Removed = result.Removed,
        Changed = result.Changed,
        Created = result.Created,
    };
}
