using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// A real, throwaway PostgreSQL 15 server per test class (<see cref="PostgresServer"/>, durability
/// off for speed). Missing binaries fail the tests: a database test that skips proves nothing.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    /// <summary>The server itself, for code shared with the benchmark tool.</summary>
    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    /// <summary>The connection string of the server's <c>postgres</c> database, as superuser <c>postgres</c>.</summary>
    public string ConnectionString => Server.ConnectionString;

    /// <inheritdoc cref="PostgresServer.CreateDatabaseAsync"/>
    public Task<string> CreateDatabaseAsync(string? name = null) => Server.CreateDatabaseAsync(name);

    /// <inheritdoc cref="PostgresServer.StopAsync"/>
    public Task StopAsync() => Server.StopAsync();

    /// <inheritdoc cref="PostgresServer.StartAgainAsync"/>
    public Task StartAgainAsync() => Server.StartAgainAsync();

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
