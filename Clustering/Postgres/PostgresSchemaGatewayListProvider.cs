using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime.Membership;

namespace OrleansReplication.Clustering.Postgres;

/// <summary>Orleans' ADO.NET gateway list provider, with <see cref="PostgresClusteringSchema"/> applied first.</summary>
/// <remarks>
/// A client has no lifecycle stage early enough: its runtime initializes the gateway list provider
/// (which reads <c>OrleansQuery</c>) before the client lifecycle starts. So the schema is applied
/// here, in <see cref="InitializeGatewayListProviderAsync"/>, and a client may start before the first silo.
/// </remarks>
internal sealed class PostgresSchemaGatewayListProvider : IGatewayListProvider
{
    private readonly AdoNetGatewayListProvider _inner;
    private readonly AdoNetClusteringClientOptions _options;

    public PostgresSchemaGatewayListProvider(AdoNetGatewayListProvider inner, IOptions<AdoNetClusteringClientOptions> options)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        _inner = inner;
        _options = options.Value;
    }

    /// <inheritdoc />
    public TimeSpan MaxStaleness => _inner.MaxStaleness;

    /// <inheritdoc />
    public bool IsUpdatable => _inner.IsUpdatable;

    /// <inheritdoc />
    public async Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken)
    {
        await PostgresClusteringSchema.ApplyAsync(ConnectionString, cancellationToken).ConfigureAwait(false);
        await _inner.InitializeGatewayListProviderAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken) => _inner.GetGatewaysAsync(cancellationToken);

    /// <inheritdoc />
    public Task InitializeGatewayListProvider() => InitializeGatewayListProviderAsync(CancellationToken.None);

    /// <inheritdoc />
    public Task<IList<Uri>> GetGateways() => GetGatewaysAsync(CancellationToken.None);

    // UsePostgresClustering sets a connection string; a DbDataSource configured over it cannot be used for the schema.
    private string ConnectionString => _options.ConnectionString
        ?? throw new InvalidOperationException(
            $"{nameof(AdoNetClusteringClientOptions)}.{nameof(AdoNetClusteringClientOptions.ConnectionString)} is empty, so the PostgreSQL clustering schema cannot be applied. Configure clustering with UsePostgresClustering(connectionString) and do not replace its connection string with a DataSource.");
}
