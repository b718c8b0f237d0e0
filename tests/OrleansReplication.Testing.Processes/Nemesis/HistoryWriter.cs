namespace OrleansReplication.Testing.Processes.Nemesis;

/// <summary>How one history writer reaches the cluster: the .NET client or plain HTTP, and the safety level it asks for.</summary>
/// <param name="Http">Plain HTTP (<c>PUT</c> with an <c>Idempotency-Key</c>, resent to the next silo until answered) instead of the .NET client.</param>
/// <param name="Safety">The safety level of every write it makes.</param>
public sealed record HistoryWriter(bool Http, SafetyLevel Safety)
{
    /// <summary>The .NET client at <c>Applied</c>: the writers whose stalls measure a fault's unavailability.</summary>
    public static readonly HistoryWriter ClientApplied = new(Http: false, SafetyLevel.Applied);

    /// <summary><paramref name="count"/> .NET clients at <c>Applied</c>.</summary>
    public static IReadOnlyList<HistoryWriter> Clients(int count) => Enumerable.Repeat(ClientApplied, count).ToList();

    /// <summary>The nemesis mix: three .NET clients at <c>Applied</c>, one at <c>Durable</c>, and one HTTP writer at each.</summary>
    public static IReadOnlyList<HistoryWriter> NemesisMix() =>
    [
        ClientApplied, ClientApplied, ClientApplied, new(Http: false, SafetyLevel.Durable),
        new(Http: true, SafetyLevel.Applied), new(Http: true, SafetyLevel.Durable),
    ];

    /// <summary>A short name for reports: <c>client/applied</c>, <c>http/durable</c>.</summary>
    public string Class => $"{(Http ? "http" : "client")}/{Safety.ToString().ToLowerInvariant()}";
}
