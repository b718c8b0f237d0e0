using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace OrleansReplication.Clustering.Postgres;

/// <summary>Applies <see cref="PostgresClusteringSchema"/> when the silo starts, before Orleans' membership reads its queries.</summary>
/// <remarks>
/// Orleans' MembershipTableManager initializes the ADO.NET table (which reads <c>OrleansQuery</c>) in
/// stage <see cref="ServiceLifecycleStage.RuntimeGrainServices"/>; stages run in order and this one,
/// <see cref="ServiceLifecycleStage.RuntimeInitialize"/>, finishes before that one starts.
/// A failure (database unreachable, no rights) fails the silo's start.
/// </remarks>
internal sealed partial class PostgresSchemaSiloStartup : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly AdoNetClusteringSiloOptions _options;
    private readonly ILogger _logger;

    public PostgresSchemaSiloStartup(IOptions<AdoNetClusteringSiloOptions> options, ILogger<PostgresSchemaSiloStartup> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _logger = logger;
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(PostgresSchemaSiloStartup), ServiceLifecycleStage.RuntimeInitialize, ApplyAsync);
    }

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        LogApplying(_options.Invariant);
        await PostgresClusteringSchema.ApplyAsync(ConnectionString, cancellationToken).ConfigureAwait(false);
        LogApplied();
    }

    [LoggerMessage(EventId = ClusteringLogEvents.PostgresSchemaApplying, Level = LogLevel.Debug, Message = "Applying the PostgreSQL clustering schema for ADO.NET invariant {Invariant} before membership starts.")]
    private partial void LogApplying(string invariant);

    [LoggerMessage(EventId = ClusteringLogEvents.PostgresSchemaApplied, Level = LogLevel.Information, Message = "PostgreSQL clustering schema applied: tables present, OrleansQuery holds the current clustering queries.")]
    private partial void LogApplied();

    // UsePostgresClustering sets a connection string; a DbDataSource configured over it cannot be used for the schema.
    private string ConnectionString => _options.ConnectionString
        ?? throw new InvalidOperationException(
            $"{nameof(AdoNetClusteringSiloOptions)}.{nameof(AdoNetClusteringSiloOptions.ConnectionString)} is empty, so the PostgreSQL clustering schema cannot be applied. Configure clustering with UsePostgresClustering(connectionString) and do not replace its connection string with a DataSource.");
}
