using Google.Protobuf;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// A request over items that the client splits by partition primary: each part carries the items
/// at some positions of the caller's request, and its results go back to those positions. Parts
/// run concurrently; a part that fails for good is recorded, not thrown, so the others finish.
/// </summary>
internal abstract class RoutedRequest(string component)
{
    private readonly Lock _failuresLock = new();
    private List<Exception>? _failures;

    public string Component { get; } = component;

    public abstract int Count { get; }

    /// <summary>The partition key the silo hashes for the item at <paramref name="position"/>.</summary>
    public abstract string PartitionKeyAt(int position);

    /// <summary>Sends the items at <paramref name="positions"/> (ascending) over <paramref name="connection"/> and stores their results.</summary>
    public abstract Task SendAsync(GatewayConnection connection, List<int> positions, CancellationToken cancellationToken);

    /// <summary>Records a part's final failure.</summary>
    public void Fail(Exception exception)
    {
        lock (_failuresLock)
        {
            (_failures ??= []).Add(exception);
        }
    }

    /// <summary>Throws what the failed parts report, as one exception; nothing when every part succeeded.</summary>
    public void ThrowIfFailed()
    {
        if (_failures is { Count: > 0 } failures)
        {
            throw Combine(failures);
        }
    }

    protected virtual Exception Combine(List<Exception> failures) => failures[0];

    protected static void CopyAt<T>(IList<T> from, List<int> positions, ICollection<T> into)
    {
        foreach (var position in positions)
        {
            into.Add(from[position]);
        }
    }

    protected static void CheckFrameSize(IMessage request, HelloReply hello)
    {
        var size = request.CalculateSize();
        if (hello.MaxFrameBytes > 0 && size > hello.MaxFrameBytes)
        {
            throw new ItemTooLargeException($"The request is {size} bytes; the silo accepts frames up to {hello.MaxFrameBytes} bytes. Split the call into smaller batches.");
        }
    }
}

/// <summary>Sets and removes, split per primary; every part carries the request's id, so a retried part is applied once.</summary>
internal sealed class RoutedApply(ApplyRequest request) : RoutedRequest(request.Component)
{
    private readonly ItemResult?[] _results = new ItemResult?[request.Changes.Count];

    public override int Count => _results.Length;

    public override string PartitionKeyAt(int position) =>
        request.Changes[position] is { PartitionKey.Length: > 0 } change ? change.PartitionKey : request.Changes[position].Id;

    public override async Task SendAsync(GatewayConnection connection, List<int> positions, CancellationToken cancellationToken)
    {
        var part = request;
        if (positions.Count != _results.Length)
        {
            part = new ApplyRequest { Component = request.Component, Safety = request.Safety, RequestId = request.RequestId };
            CopyAt(request.Changes, positions, part.Changes);
        }

        CheckFrameSize(part, connection.Hello);
        var reply = await connection.SendAsync(MessageType.Apply, part, MessageType.ApplyReply, ApplyReply.Parser, cancellationToken).ConfigureAwait(false);
        if (reply.Results.Count != positions.Count)
        {
            throw new ProtocolException($"The silo '{connection.Hello.SiloId}' answered {positions.Count} changes with {reply.Results.Count} results.");
        }

        for (var i = 0; i < positions.Count; i++)
        {
            _results[positions[i]] = reply.Results[i];
        }
    }

    public List<WriteResult> Results() => [.. _results.Select(r => ErrorReplies.ToResult(r!))];

    // As a silo reports a batch across its partitions: conflicts first, with what the other parts applied.
    protected override Exception Combine(List<Exception> failures)
    {
        var conflicts = failures.OfType<VersionConflictException>().ToList();
        if (conflicts.Count == 0)
        {
            return failures[0];
        }

        var applied = _results.Where(r => r is not null).Select(r => ErrorReplies.ToResult(r!)).Concat(conflicts.SelectMany(c => c.Applied));
        return new VersionConflictException([.. conflicts.SelectMany(c => c.Conflicts)], [.. applied]);
    }
}

/// <summary>Reads, split per primary; the items found come back in request order.</summary>
internal sealed class RoutedGet(GetRequest request) : RoutedRequest(request.Component)
{
    private readonly Item?[] _found = new Item?[request.Items.Count];

    public override int Count => _found.Length;

    public override string PartitionKeyAt(int position) =>
        request.Items[position] is { PartitionKey.Length: > 0 } item ? item.PartitionKey : request.Items[position].Id;

    public override async Task SendAsync(GatewayConnection connection, List<int> positions, CancellationToken cancellationToken)
    {
        var part = request;
        if (positions.Count != _found.Length)
        {
            part = new GetRequest { Component = request.Component };
            CopyAt(request.Items, positions, part.Items);
        }

        CheckFrameSize(part, connection.Hello);
        var reply = await connection.SendAsync(MessageType.Get, part, MessageType.GetReply, GetReply.Parser, cancellationToken).ConfigureAwait(false);

        // The reply holds the items that exist, in the part's order: walk both together.
        var next = 0;
        foreach (var position in positions)
        {
            var wanted = request.Items[position];
            if (next < reply.Items.Count && reply.Items[next].Id == wanted.Id && reply.Items[next].PartitionKey == wanted.PartitionKey)
            {
                _found[position] = reply.Items[next++];
            }
        }
    }

    public IEnumerable<Item> Found() => _found.Where(i => i is not null)!;
}
