using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using OrleansReplication.Protocol;

namespace OrleansReplication.Client;

/// <summary>
/// One cluster event as a silo saw it: a silo joined, was suspected, declared dead, left or is
/// draining (<see cref="Silo"/>), or a partition got a new primary (<see cref="Partition"/>,
/// <see cref="Epoch"/>, <see cref="Silo"/> = the new primary).
/// </summary>
/// <param name="Id">Increasing per silo.</param>
/// <param name="Time">When the silo saw it.</param>
/// <param name="Kind"><c>silo-joined</c>, <c>silo-suspected</c>, <c>silo-declared-dead</c>, <c>silo-left</c>, <c>silo-draining</c>, <c>partition-promoted</c> or <c>partition-handed-off</c>.</param>
/// <param name="Silo">The silo the event is about.</param>
/// <param name="Partition">The partition, for partition events.</param>
/// <param name="Epoch">The partition's new epoch, for partition events.</param>
/// <param name="Reason">Why, in words for an operator.</param>
public sealed record ClusterEvent(long Id, DateTimeOffset Time, string Kind, string? Silo, int? Partition, long? Epoch, string Reason);

/// <summary>Following the cluster event channel (<c>GET /v1/cluster/events</c>, Server-Sent Events).</summary>
public static class ClusterEventsExtensions
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The recent cluster events of the silo the client reaches, then live ones, until cancelled.
    /// Throws <see cref="ReplicaUnavailableException"/> when the stream ends (the silo stopped): follow another silo.
    /// </summary>
    public static async IAsyncEnumerable<ClusterEvent> WatchClusterEventsAsync(this ReplicationClient client, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var endpoint = await client.Context.GetHttpEndpointAsync(avoid: null, cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint, "v1/cluster/events"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage response;
        try
        {
            response = await client.Context.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw Ended(ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new ReplicaUnavailableException($"The silo at {endpoint} answered {(int)response.StatusCode} to GET /v1/cluster/events.", TimeSpan.FromSeconds(1));
            }

            using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            await foreach (var e in reader.ReadAllAsync(Ended, cancellationToken).ConfigureAwait(false))
            {
                if (JsonSerializer.Deserialize<ClusterEvent>(e.Data, Json) is { } clusterEvent)
                {
                    yield return clusterEvent;
                }
            }

            throw Ended(null);
        }
    }

    private static ReplicaUnavailableException Ended(Exception? inner) => new(
        "The cluster event stream ended (silo stopping or connection lost); follow it again, on another silo if this one is gone.",
        TimeSpan.FromSeconds(1),
        inner);
}
