using System.Text.Json;

namespace OrleansReplication.Client;

/// <summary>Options of a <see cref="ReplicationClient"/>.</summary>
public sealed class ReplicationClientOptions
{
    /// <summary>Orleans gateway endpoints (<c>host:port</c>) of any silos (static clustering): Orleans routes every call to its grain's silo.</summary>
    /// <value>Defaults to <c>127.0.0.1:30000</c>.</value>
    public IList<string> Gateways { get; set; } = ["127.0.0.1:30000"];

    /// <summary>The Orleans cluster id; the silos' <c>Silo:ClusterId</c>.</summary>
    /// <value>Defaults to <c>orleans-replication</c>.</value>
    public string ClusterId { get; set; } = "orleans-replication";

    /// <summary>The Orleans service id; the silos' <c>Silo:ServiceId</c>.</summary>
    /// <value>Defaults to <c>orleans-replication</c>.</value>
    public string ServiceId { get; set; } = "orleans-replication";

    /// <summary>This client's id: with a per-instance suffix, the client id of every write's idempotency id.</summary>
    /// <value>Defaults to a new GUID.</value>
    public string ClientId { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>How long <see cref="ReplicationClient.ConnectAsync(ReplicationClientOptions, CancellationToken)"/> waits for a first connection.</summary>
    /// <value>Defaults to 10 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request may take in all: replies and its retries after a lost silo or a moved partition (also how long a watch tries to continue elsewhere).</summary>
    /// <value>Defaults to 30 seconds.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The first delay before connecting or sending again; doubled after each failure up to
    /// <see cref="MaxReconnectDelay"/>.
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
        var failures = Errors();
        if (failures.Count > 0)
        {
            throw new ArgumentException("Invalid ReplicationClientOptions: " + string.Join(" ", failures));
        }
    }

    /// <summary>Parses <c>host:port</c>.</summary>
    internal static bool TryParseGateway(string? text, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        var colon = text?.LastIndexOf(':') ?? -1;
        if (text is null || colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port is 0 or > 65535)
        {
            return false;
        }

        host = text[..colon].Trim('[', ']');
        return true;
    }

    /// <summary>Every setting to fix, in words.</summary>
    internal List<string> Errors()
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
                if (!TryParseGateway(gateway, out _, out _))
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

        if (string.IsNullOrWhiteSpace(ClusterId) || string.IsNullOrWhiteSpace(ServiceId))
        {
            failures.Add("ClusterId and ServiceId must not be empty.");
        }

        return failures;
    }
}
