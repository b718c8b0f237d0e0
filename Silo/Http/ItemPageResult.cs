using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OrleansReplication.Silo.Partitions;

namespace OrleansReplication.Silo.Http;

/// <summary>Writes a listing page, embedding each item's stored JSON as is (no re-serialization).</summary>
internal sealed class ItemPageResult(List<(ListingKey Key, ItemEntry Entry)> items, string? next) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartArray("items");
        foreach (var (key, entry) in items)
        {
            writer.WriteStartObject();
            writer.WriteString("id", key.Id);
            if (key.PartitionKey.Length > 0)
            {
                writer.WriteString("partitionKey", key.PartitionKey);
            }

            writer.WriteNumber("version", entry.Version);
            writer.WritePropertyName("value");

            // Validated as one JSON value when written.
            writer.WriteRawValue(entry.Json, skipInputValidation: true);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        if (next is null)
        {
            writer.WriteNull("next");
        }
        else
        {
            writer.WriteString("next", next);
        }

        writer.WriteEndObject();
        await writer.FlushAsync().ConfigureAwait(false);
    }
}
