using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>Turns a silo's <see cref="ErrorReply"/> into the typed exception callers branch on.</summary>
internal static class ErrorReplies
{
    public static Exception ToException(ErrorReply error) => error.Code switch
    {
        ErrorCode.ErrorInvalidArgument => new InvalidRequestException(error.Message),
        ErrorCode.ErrorTooLarge => new ItemTooLargeException(error.Message),
        ErrorCode.ErrorVersionConflict => new VersionConflictException(
            error.Conflicts.Select(c => new VersionConflict(Key(c.Id, c.PartitionKey), ExpectFromWire(c.ExpectedVersion), c.CurrentVersion)).ToList(),
            error.Applied.Select(ToResult).ToList()),
        ErrorCode.ErrorNotPrimary => new PartitionMovedException((int)error.Partition, NullIfEmpty(error.PrimaryGateway), NullIfEmpty(error.PrimaryHttp), error.Message),
        ErrorCode.ErrorUnavailable => new ReplicaUnavailableException(error.Message, TimeSpan.FromMilliseconds(error.RetryAfterMs)),
        ErrorCode.ErrorUnknownMessage or ErrorCode.ErrorProtocol => new ProtocolException(error.Message),
        _ => new ReplicationException(error.Message),
    };

    public static WriteResult ToResult(ItemResult r) => new(Key(r.Id, r.PartitionKey), r.Version, r.Removed, r.Changed, r.Created);

    public static ItemKey Key(string id, string partitionKey) => new(id, partitionKey.Length == 0 ? null : partitionKey);

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static Expect ExpectFromWire(long value) => Expect.TryFromWire(value, out var expect) ? expect : Expect.Any;
}
