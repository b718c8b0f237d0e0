using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace OrleansReplication.Bench.Cluster;

/// <summary>
/// A PostgreSQL 15 server in a temp folder for <c>--storage postgres</c>, started as the test
/// fixture starts it (initdb, pg_ctl; through runuser as the postgres user when run as root), but
/// with the default durability settings: a benchmark measures what production would see.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private readonly string _root = Directory.CreateTempSubdirectory("or-bench-pg-").FullName;
    private readonly bool _asRoot = Environment.UserName == "root";
    private bool _started;

    private string DataDirectory => Path.Combine(_root, "data");

    public string ConnectionString { get; private set; } = string.Empty;

    public static async Task<PostgresServer> StartAsync()
    {
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")))
        {
            throw new InvalidOperationException($"PostgreSQL 15 is not installed ({BinDirectory}/initdb is missing): apt-get install postgresql.");
        }

        var server = new PostgresServer();
        try
        {
            Directory.CreateDirectory(Path.Combine(server._root, "socket"));
            if (server._asRoot)
            {
                await server.RunAsync("chown", ["-R", "postgres:postgres", server._root], asServerUser: false);
            }

            await server.RunAsync(Path.Combine(BinDirectory, "initdb"), ["-D", server.DataDirectory, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"]);
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            await File.AppendAllTextAsync(Path.Combine(server.DataDirectory, "postgresql.conf"), $"""

                listen_addresses = '127.0.0.1'
                port = {port}
                unix_socket_directories = '{Path.Combine(server._root, "socket")}'
                max_connections = 200

                """);
            await server.RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["start", "-D", server.DataDirectory, "-l", Path.Combine(server._root, "server.log"), "-w", "-t", "60"]);
            server._started = true;
            server.ConnectionString = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = "postgres", Database = "postgres" }.ConnectionString;
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A new empty database for one cluster; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "bench_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_started)
        {
            await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["stop", "-D", DataDirectory, "-m", "immediate", "-w"]);
        }

        Directory.Delete(_root, recursive: true);
    }

    private async Task RunAsync(string fileName, IReadOnlyList<string> arguments, bool asServerUser = true)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _root };
        IEnumerable<string> all = arguments;
        if (asServerUser && _asRoot)
        {
            start.FileName = "runuser";
            all = new[] { "-u", "postgres", "--", fileName }.Concat(arguments);
        }
        else
        {
            start.FileName = fileName;
        }

        foreach (var argument in all)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{fileName} {string.Join(' ', arguments)}` exited with {process.ExitCode.ToString(CultureInfo.InvariantCulture)}: {await error}{await output}");
        }
    }
}
