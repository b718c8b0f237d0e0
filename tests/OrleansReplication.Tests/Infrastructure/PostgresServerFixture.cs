using System.Net;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Tests.Infrastructure;

/// <summary>
/// A real, throwaway PostgreSQL 15 server per test class (<see cref="PostgresServer"/>, durability
/// off for speed). Missing binaries fail the tests: a database test that skips proves nothing.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    /// <summary>An address to listen on besides 127.0.0.1, e.g. a test network's bridge; it must exist when the server starts.</summary>
    public IPAddress? ExtraListenAddress { get; init; }

    /// <summary>The clients trusted without a password on <see cref="ExtraListenAddress"/> (CIDR, e.g. that test network's subnet).</summary>
    public string? ExtraClientNetwork { get; init; }

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
    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync(extraListenAddress: ExtraListenAddress, extraClientNetwork: ExtraClientNetwork);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
