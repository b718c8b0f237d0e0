using Npgsql;
using OrleansReplication.Testing.Processes.Network;
using OrleansReplication.Tests.Infrastructure;

namespace OrleansReplication.Tests.Processes.NetworkPartitions;

/// <summary>
/// Three hosts in network namespaces of the test's own and a PostgreSQL server listening on their
/// bridge too (it must start after the bridge exists, so this fixture owns it), shared by a test
/// class: each test starts its own silos on a database of its own and heals the network first.
/// </summary>
public sealed class NetworkPartitionFixture : IAsyncLifetime
{
    public const int Hosts = 3;

    private PostgresServerFixture? _postgres;

    public IsolatedNetwork Network { get; private set; } = null!;

    /// <summary>The store's port on the bridge address (what <see cref="IsolatedNetwork.CutFromServiceAsync"/> cuts).</summary>
    public int StorePort => new NpgsqlConnectionStringBuilder(_postgres!.ConnectionString).Port;

    /// <summary>
    /// The silo arguments for a new empty database, reached through the bridge. The server ends a
    /// transaction whose client went quiet (idle_in_transaction_session_timeout), as with a paused
    /// silo: a silo cut off inside one would otherwise hold its row locks against the others.
    /// </summary>
    public async Task<string[]> StoreArgumentsAsync()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(await _postgres!.CreateDatabaseAsync())
        {
            Host = Network.BridgeAddress.ToString(),
            Options = "-c idle_in_transaction_session_timeout=1000",
        }.ConnectionString;
        return ["--storage", "postgres", "--connection-string", connectionString];
    }

    public async Task InitializeAsync()
    {
        Network = await IsolatedNetwork.CreateAsync(Hosts);
        _postgres = new PostgresServerFixture { ExtraListenAddress = Network.BridgeAddress, ExtraClientNetwork = Network.Subnet };
        await _postgres.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_postgres is not null)
            {
                await _postgres.DisposeAsync();
            }
        }
        finally
        {
            await Network.DisposeAsync();
        }
    }
}
