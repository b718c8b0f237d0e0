using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansReplication.Testing.Processes;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes;

/// <summary>HTTP writes with an Idempotency-Key against silo processes whose cluster may be settling or failing over.</summary>
internal static class KeyedWrites
{
    /// <summary>The answer to a write: its status, and the version it reports (0 on an error).</summary>
    public readonly record struct Answer(HttpStatusCode Status, long Version, string Body);

    /// <summary>
    /// PUTs <paramref name="json"/> with <paramref name="idempotencyKey"/> until a silo answers other
    /// than 503 (no primary yet), 307 (a partition moving) or a refused connection (a redirect to a
    /// silo that just died), and returns that answer.
    /// </summary>
    public static async Task<Answer> PutAsync(SiloProcess silo, string path, string idempotencyKey, string json, TimeSpan deadline, bool createOnly = false)
    {
        Answer answer = default;
        await Wait.UntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
                request.Headers.Add("Idempotency-Key", idempotencyKey);
                if (createOnly)
                {
                    request.Headers.Add("If-None-Match", "*");
                }

                HttpResponseMessage response;
                try
                {
                    response = await silo.Http.SendAsync(request);
                }
                catch (HttpRequestException)
                {
                    return false;
                }

                using (response)
                {
                    // 307 after HttpClient's own redirects: silos that disagree for a moment while a
                    // partition moves send the request back and forth (they converge within a map tick).
                    if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TemporaryRedirect)
                    {
                        return false;
                    }

                    var body = await response.Content.ReadAsStringAsync();
                    var version = response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("version").GetInt64() : 0;
                    answer = new Answer(response.StatusCode, version, body);
                    return true;
                }
            },
            deadline,
            $"PUT {path} (Idempotency-Key {idempotencyKey}) to be answered");
        return answer;
    }

    /// <summary>Waits until every one of <paramref name="partitions"/> partitions is led by one of <paramref name="silos"/>.</summary>
    public static Task WaitEveryPartitionLedAsync(IReadOnlyList<SiloProcess> silos, int partitions, TimeSpan deadline) => Wait.UntilAsync(
        async () =>
        {
            var ids = new HashSet<string>();
            foreach (var silo in silos)
            {
                ids.Add((await silo.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("id").GetString()!);
            }

            var map = (await silos[0].Http.GetFromJsonAsync<JsonElement>("v1/cluster/partitions")).GetProperty("partitions").EnumerateArray().ToList();
            return map.Count == partitions && map.All(p => p.GetProperty("primary").GetString() is { } primary && ids.Contains(primary));
        },
        deadline,
        $"every partition to be led by one of the {silos.Count} live silos");
}
