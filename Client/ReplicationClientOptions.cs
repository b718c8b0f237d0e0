using System.Text.Json;

namespace OrleansReplication.Client;

/// <summary>Options of a <see cref="ReplicationClient"/>.</summary>
public sealed class ReplicationClientOptions
{
    /// <summary>Gateway endpoints (<c>host:port</c>) of any silos: the client learns the partition map from one and then connects to each partition's primary.</summary>
    /// <value>Defaults to <c>127.0.0.1:30000</c>.</value>
    public IList<string> Gateways { get; set; } = ["127.0.0.1:30000"];

    /// <summary>This client's id, sent in the handshake and, with a per-instance suffix, in every write's request id.</summary>
    /// <value>Defaults to a new GUID.</value>
    public string ClientId { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>How long <see cref="ReplicationClient.ConnectAsync(ReplicationClientOptions, CancellationToken)"/> waits for a first connection.</summary>
    /// <value>Defaults to 10 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request may take in all: connections, replies, and its retries after a lost silo or a moved partition (also how long a watch tries to continue elsewhere).</summary>
    /// <value>Defaults to 30 seconds.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The first delay before connecting or sending again; doubled after each failure up to
    /// <see cref="MaxReconnectDelay"/>. While a request waits, the partition map is re-read this
    /// often, and the request is sent at once when the map names a new primary (a failover ended).
    /// </summary>
    /// <value>Defaults to 50 ms.</value>
    public TimeSpan MinReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The longest delay between attempts.</summary>
    /// <value>Defaults to 5 seconds.</value>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How items are serialized to JSON.</summary>
    /// <value>Defaults to <see cref="JsonSerializerOptions.Web"/> (camelCase).</value>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = JsonSerializerOptions.Web;

    internal void Validate()
    {
        var failures = new List<string>();
        if (Gateways is null || Gateways.Count == 0)
        {
            failures.Add("Gateways is empty; give at least one 'host:port'.");
        }
        else
        {
            foreach (var gateway in Gateways)
            {
                if (!GatewayAddress.TryParse(gateway, out _))
                {
                    failures.Add($"Gateway '{gateway}' is not 'host:port'.");
                }
            }
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            failures.Add("ClientId is empty.");
        }

        if (ConnectTimeout <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero)
        {
            failures.Add("ConnectTimeout and RequestTimeout must be positive.");
        }

        if (MinReconnectDelay <= TimeSpan.Zero || MaxReconnectDelay < MinReconnectDelay)
        {
            failures.Add("MinReconnectDelay must be positive and not above MaxReconnectDelay.");
        }

        if (failures.Count > 0)
        {
            throw new ArgumentException("Invalid ReplicationClientOptions: " + string.Join(" ", failures));
        }
    }
}
