using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansReplication.Silo.Listeners;
using OrleansReplication.Silo.Membership;
using OrleansReplication.Silo.Partitions;
using OrleansReplication.Silo.Placement;

namespace OrleansReplication.Silo.Http;

/// <summary>
/// <c>GET /v1/components/{component}/watch?prefix=&amp;cursor=</c>: the component's changes as
/// Server-Sent Events (<c>set</c>, <c>remove</c>, <c>snapshot-end</c>, and <c>error</c> before an
/// early end), each live event with <c>id: &lt;cursor&gt;</c>; <c>Last-Event-ID</c> resumes too.
/// Any silo's watch covers every partition: those led elsewhere are fanned in from their primaries
/// (<see cref="ClusterWatch"/>), which serve them with the internal <c>partitions=</c> filter.
/// </summary>
internal static class WatchEndpoints
{
    /// <summary>
    /// Idle time before a heartbeat comment: well under the 60 s idle timeout common to proxies and
    /// load balancers, rare enough to cost nothing.
    /// </summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);

    private static readonly byte[] Heartbeat = ": heartbeat\n\n"u8.ToArray();

    public static void MapWatchEndpoints(this IEndpointRouteBuilder app) => app.MapGet("/v1/components/{component}/watch", WatchAsync);

    private static async Task WatchAsync(
        string component,
        string? prefix,
        string? cursor,
        string? partitions,
        HttpContext context,
        ChangeFeed feed,
        PartitionMapManager map,
        MembershipService membership,
        PartitionManager partitionManager,
        ILoggerFactory loggers,
        IHostApplicationLifetime lifetime)
    {
        // A stopping silo ends its streams first (with an error event that tells the watcher to
        // resume elsewhere from its cursor): an open stream must not hold the silo's exit.
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var aborted = watching.Token;
        if (string.IsNullOrEmpty(cursor))
        {
            cursor = context.Request.Headers["Last-Event-ID"].ToString();
        }

        IDisposable? subscription = null;
        IAsyncEnumerable<IReadOnlyList<ChangeFeedEvent>> events;
        try
        {
            var only = partitions is null ? null : ParsePartitions(partitions);
            ChangeSubscription? local = null;
            try
            {
                local = only is not null || ServesEveryPartition(feed) ? await feed.OpenAsync(component, prefix, cursor, aborted, only).ConfigureAwait(false) : null;
            }
            catch (PartitionHistoryRestartedException) when (only is null)
            {
                // A partition restarted here after the cursor: the cluster watch catches it up.
            }

            if (local is not null)
            {
                subscription = local;
                events = local.ReadAsync(HeartbeatInterval, aborted);
            }
            else
            {
                // Some partitions are led elsewhere: fan them in from their primaries.
                var routes = new PartitionRoutes(map, membership);
                events = ClusterWatch.Open(feed, routes.PrimaryHttp, component, prefix, cursor, loggers.CreateLogger<ClusterWatch>()).ReadAsync(HeartbeatInterval, aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            await HttpProblems.From(ex, context).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        using (subscription)
        {
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no"; // nginx: do not buffer the stream
            await response.StartAsync(aborted).ConfigureAwait(false);
            var writer = response.BodyWriter;
            var json = new ArrayBufferWriter<byte>();
            try
            {
                await foreach (var batch in events.ConfigureAwait(false))
                {
                    if (batch.Count == 0)
                    {
                        writer.Write(Heartbeat);
                    }

                    foreach (var change in batch)
                    {
                        WriteEvent(writer, json, change);
                    }

                    await writer.FlushAsync(aborted).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                WriteError(writer, json, new ReplicaUnavailableException("This silo is stopping; watch again from the last cursor (another silo serves it).", TimeSpan.Zero));
                await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                // The listener went away.
            }
            catch (ReplicationException ex)
            {
                WriteError(writer, json, ex);
                await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private static bool ServesEveryPartition(ChangeFeed feed)
    {
        for (var p = 0; p < feed.PartitionCount; p++)
        {
            if (!feed.IsServed(p))
            {
                return false;
            }
        }

        return true;
    }

    // The fan-in's filter: "0,3,7". Internal (silo to silo), but still checked like any input.
    private static int[] ParsePartitions(string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out result[i]))
            {
                throw new InvalidRequestException($"partitions='{value}' is not a comma-separated list of partition ids.");
            }
        }

        return result;
    }

    private static void WriteEvent(IBufferWriter<byte> output, ArrayBufferWriter<byte> json, in ChangeFeedEvent change)
    {
        output.Write(change.Kind switch
        {
            ChangeKind.Set => "event: set\n"u8,
            ChangeKind.Removed => "event: remove\n"u8,
            _ => "event: snapshot-end\n"u8,
        });
        if (change.Cursor is { } cursor)
        {
            output.Write("id: "u8);
            Encoding.UTF8.GetBytes(cursor, output);
            output.Write("\n"u8);
        }

        json.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (change.Kind != ChangeKind.SnapshotEnd)
            {
                writer.WriteString("id"u8, change.Address.Id);
                if (change.Address.PartitionKey.Length > 0)
                {
                    writer.WriteString("partitionKey"u8, change.Address.PartitionKey);
                }

                writer.WriteNumber("version"u8, change.Version);
                if (change.CatchUp)
                {
                    writer.WriteBoolean("catchUp"u8, true);
                }

                if (change.Json is { } value)
                {
                    writer.WritePropertyName("value"u8);
                    writer.WriteRawValue(value, skipInputValidation: true);
                }
            }

            writer.WriteEndObject();
        }

        WriteData(output, json.WrittenSpan);
    }

    private static void WriteError(IBufferWriter<byte> output, ArrayBufferWriter<byte> json, ReplicationException error)
    {
        json.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, error is CursorExpiredException ? "cursor-expired" : error is ReplicaUnavailableException ? "unavailable" : "error");
            writer.WriteString("detail"u8, error.Message);
            writer.WriteEndObject();
        }

        output.Write("event: error\n"u8);
        WriteData(output, json.WrittenSpan);
    }

    // A stored value keeps the writer's whitespace, newlines included; in JSON those occur only
    // between tokens, so a newline continues the data on a new "data:" line (SSE joins them with
    // "\n") and a carriage return becomes a space.
    private static void WriteData(IBufferWriter<byte> output, ReadOnlySpan<byte> data)
    {
        output.Write("data: "u8);
        while (data.IndexOfAny((byte)'\n', (byte)'\r') is var i && i >= 0)
        {
            output.Write(data[..i]);
            output.Write(data[i] == '\n' ? "\ndata: "u8 : " "u8);
            data = data[(i + 1)..];
        }

        output.Write(data);
        output.Write("\n\n"u8);
    }
}
