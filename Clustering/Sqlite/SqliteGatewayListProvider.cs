using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;

namespace OrleansReplication.Clustering.Sqlite;

/// <summary>
/// The gateways of a cluster for Orleans clients, read from the SQLite membership file the silos write:
/// one <see cref="Uri"/> per Active silo with a gateway port. Registered by
/// <see cref="SqliteClusteringExtensions.UseSqliteClustering(Orleans.Hosting.IClientBuilder, Action{SqliteClusteringOptions})"/>.
/// </summary>
public sealed partial class SqliteGatewayListProvider : IGatewayListProvider
{
    private const string GatewaysSql =
        "SELECT silo_address, proxy_port FROM orleans_membership WHERE cluster_id = $cluster AND status = $active AND proxy_port > 0";

    private readonly SqliteClusterDatabase _database;
    private readonly string _clusterId;
    private readonly ILogger _logger;

    /// <summary>Creates the provider for the client's cluster id; nothing is opened until <see cref="InitializeGatewayListProviderAsync"/>.</summary>
    /// <param name="options">The SQLite file the silos write.</param>
    /// <param name="clusterOptions">The cluster id whose gateways are listed.</param>
    /// <param name="gatewayOptions">Its <see cref="GatewayOptions.GatewayListRefreshPeriod"/> is <see cref="MaxStaleness"/>.</param>
    /// <param name="logger">The provider's logger.</param>
    public SqliteGatewayListProvider(
        IOptions<SqliteClusteringOptions> options,
        IOptions<ClusterOptions> clusterOptions,
        IOptions<GatewayOptions> gatewayOptions,
        ILogger<SqliteGatewayListProvider> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clusterOptions);
        ArgumentNullException.ThrowIfNull(gatewayOptions);
        ArgumentNullException.ThrowIfNull(logger);
        _database = new SqliteClusterDatabase(options.Value.ConnectionString);
        _clusterId = clusterOptions.Value.ClusterId;
        MaxStaleness = gatewayOptions.Value.GatewayListRefreshPeriod;
        _logger = logger;
    }

    /// <inheritdoc />
    public TimeSpan MaxStaleness { get; }

    /// <inheritdoc />
    /// <value>Always true: the list follows the table as silos join and leave (Orleans 10 no longer reads it).</value>
    public bool IsUpdatable => true;

    /// <inheritdoc />
    /// <remarks>Creates the tables if missing, so a client may start before the first silo.</remarks>
    public Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken = default) => _database.EnsureSchemaAsync(cancellationToken);

    /// <inheritdoc />
    public Task InitializeGatewayListProvider() => InitializeGatewayListProviderAsync(CancellationToken.None);

    /// <inheritdoc />
    public Task<IList<Uri>> GetGateways() => GetGatewaysAsync(CancellationToken.None);

    /// <inheritdoc />
    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken = default)
    {
        var gateways = new List<Uri>();
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = SqliteClusterDatabase.Command(connection, null, GatewaysSql);
        command.Parameters.AddWithValue("$cluster", _clusterId);
        command.Parameters.AddWithValue("$active", (int)SiloStatus.Active);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // The silo's address and generation with its gateway port, as Orleans' own providers make them.
            var silo = SiloAddress.FromParsableString(reader.GetString(0));
            var gateway = SiloAddress.New(new IPEndPoint(silo.Endpoint.Address, reader.GetInt32(1)), silo.Generation);
            gateways.Add(gateway.ToGatewayUri());
        }

        LogGatewaysRead(gateways.Count, _clusterId);
        return gateways;
    }

    [LoggerMessage(EventId = ClusteringLogEvents.SqliteGatewaysRead, Level = LogLevel.Debug, Message = "Read {Count} gateways of cluster {ClusterId} from the SQLite membership table.")]
    private partial void LogGatewaysRead(int count, string clusterId);
}
