using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace OrleansReplication.Silo.Http;

/// <summary>Writes a listing page, embedding each item's stored JSON as is (no re-serialization).</summary>
internal sealed class ItemPageResult(List<JsonItem> items, string? next) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartArray("items");
        foreach (var item in items)
        {
            writer.WriteStartObject();
            writer.WriteString("id", item.Key.Id);
            if (!string.IsNullOrEmpty(item.Key.PartitionKey))
            {
                writer.WriteString("partitionKey", item.Key.PartitionKey);
            }

            writer.WriteNumber("version", item.Version);
            writer.WritePropertyName("value");

            // Validated as one JSON value when written.
            writer.WriteRawValue(item.Json, skipInputValidation: true);
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
