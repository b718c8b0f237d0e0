using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OrleansReplication.Testing.Processes;

/// <summary>
/// A real, throwaway PostgreSQL 15 server: a fresh cluster in a temp directory, on a free
/// 127.0.0.1 port with its unix socket inside that directory, stopped and deleted on dispose.
/// The tests' fixture and the benchmark tool both run one.
/// </summary>
/// <remarks>
/// initdb refuses to run as root (as CI does), so then the directory is handed to the
/// <c>postgres</c> system user and every server binary runs through <c>runuser</c>.
/// Missing binaries fail loudly: a database test that skips proves nothing.
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private const string SystemUser = "postgres";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CommandDeadline = TimeSpan.FromSeconds(120);

    private readonly bool _asRoot = Environment.UserName == "root";
    private readonly string _root = Directory.CreateTempSubdirectory("or-pg-").FullName;
    private readonly bool _durable;
    private readonly IPAddress? _extraListenAddress;
    private readonly string? _extraClientNetwork;
    private bool _started;

    private PostgresServer(bool durable, IPAddress? extraListenAddress, string? extraClientNetwork) =>
        (_durable, _extraListenAddress, _extraClientNetwork) = (durable, extraListenAddress, extraClientNetwork);

    /// <summary>The connection string of the server's <c>postgres</c> database, as superuser <c>postgres</c>.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    private string DataDirectory => Path.Combine(_root, "data");

    private string LogFile => Path.Combine(_root, "server.log");

    /// <summary>
    /// Starts a server. <paramref name="durable"/>: PostgreSQL's default durability (fsync,
    /// synchronous commit), as a benchmark must measure; otherwise off, for fast tests.
    /// </summary>
    /// <param name="durable">Whether commits are synced.</param>
    /// <param name="extraListenAddress">An address to listen on besides 127.0.0.1, e.g. a test network's bridge, so silos in network namespaces reach the server; it must exist.</param>
    /// <param name="extraClientNetwork">The clients trusted without a password on that address (CIDR, e.g. the test network's subnet).</param>
    public static async Task<PostgresServer> StartAsync(bool durable = false, IPAddress? extraListenAddress = null, string? extraClientNetwork = null)
    {
        foreach (var tool in new[] { "initdb", "pg_ctl", "postgres" })
        {
            if (!File.Exists(Path.Combine(BinDirectory, tool)))
            {
                throw new InvalidOperationException(
                    $"PostgreSQL 15 is not installed: {Path.Combine(BinDirectory, tool)} is missing. Install it with `apt-get install postgresql` (Debian 12 ships version 15).");
            }
        }

        var server = new PostgresServer(durable, extraListenAddress, extraClientNetwork);
        try
        {
            await server.InitializeAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database and returns its connection string, so each test or cluster is isolated.</summary>
    /// <param name="name">The database name (lower case letters, digits, '_'); a unique one when omitted.</param>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= "t_" + Guid.NewGuid().ToString("N");
        if (name.Length is 0 or > 63 || !name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
        {
            throw new ArgumentException($"Database name '{name}' must be 1-63 characters of a-z, 0-9 and '_'.", nameof(name));
        }

        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// Stops the server (an outage of the store); every connection breaks; <see cref="StartAgainAsync"/>
    /// ends it. Fast mode by default. <paramref name="immediate"/>: a crash (no checkpoint, recovery
    /// from the WAL at the next start), which keeps every commit only of sessions that ran with
    /// <c>synchronous_commit</c> on: a test server runs with it off for speed, so a crash test sets it
    /// on its own connections (<see cref="SynchronousCommitOption"/>), as every production server has it.
    /// </summary>
    public Task StopAsync(bool immediate = false) => PgCtlAsync("stop", "-m", immediate ? "immediate" : "fast");

    /// <summary>The connection-string <c>Options</c> that make a session's commits survive <see cref="StopAsync"/> with <c>immediate</c>.</summary>
    public const string SynchronousCommitOption = "-c synchronous_commit=on";

    /// <summary>Starts the stopped server again, on the same port, and waits until it takes connections.</summary>
    public async Task StartAgainAsync()
    {
        await PgCtlAsync("start", "-l", LogFile);

        // This process's pooled connections died with the old server.
        NpgsqlConnection.ClearAllPools();
        await WaitForConnectionsAsync(new NpgsqlConnectionStringBuilder(ConnectionString).Port);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            NpgsqlConnection.ClearAllPools();
            if (_started)
            {
                await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["stop", "-D", DataDirectory, "-m", "immediate", "-w"]);
            }
        }
        finally
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_root, "socket"));
        if (_asRoot)
        {
            await RunAsync("chown", ["-R", $"{SystemUser}:{SystemUser}", _root], asServerUser: false);
        }

        await RunAsync(Path.Combine(BinDirectory, "initdb"), ["-D", DataDirectory, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
        if (_extraClientNetwork is not null)
        {
            // initdb trusts loopback clients only.
            await File.AppendAllTextAsync(Path.Combine(DataDirectory, "pg_hba.conf"), $"{Environment.NewLine}host all all {_extraClientNetwork} trust{Environment.NewLine}");
        }

        // A free port can be taken by someone else before the server binds it: try a few. pg_ctl -w
        // waits (with its own deadline) until the postmaster is up, and fails at once if it exits.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), ServerSettings(port));
            try
            {
                await PgCtlAsync("start", "-l", LogFile);
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                continue;
            }

            _started = true;
            await WaitForConnectionsAsync(port);
            return;
        }
    }

    private Task PgCtlAsync(string verb, params string[] arguments) =>
        RunAsync(Path.Combine(BinDirectory, "pg_ctl"), [verb, "-D", DataDirectory, .. arguments, "-w", "-t", ((int)StartDeadline.TotalSeconds).ToString(CultureInfo.InvariantCulture)]);

    private string ServerSettings(int port) => $"""

        # OrleansReplication's throwaway server: loopback (and a test network's bridge, if asked) only, socket in the temp dir.
        listen_addresses = '127.0.0.1{(_extraListenAddress is null ? string.Empty : $",{_extraListenAddress}")}'
        port = {port}
        unix_socket_directories = '{Path.Combine(_root, "socket")}'
        max_connections = 200
        {(_durable ? string.Empty : "fsync = off\nsynchronous_commit = off\nfull_page_writes = off")}

        """;

    // A real connection, retried until a deadline, proves the server is ready.
    private async Task WaitForConnectionsAsync(int port)
    {
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = "postgres",
            Database = "postgres",
            Timeout = 5,
            Pooling = true,
            MaxPoolSize = 20,
        }.ConnectionString;

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                ConnectionString = connectionString;
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException)
            {
                if (deadline.Elapsed > StartDeadline)
                {
                    NpgsqlConnection.ClearAllPools();
                    throw new InvalidOperationException(
                        $"PostgreSQL server on 127.0.0.1:{port} did not accept connections within {StartDeadline.TotalSeconds:0} s ({ex.Message}). Server log {LogFile}:{Environment.NewLine}{ReadLog()}", ex);
                }

                await Task.Delay(100);
            }
        }
    }

    private string ReadLog() => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "(no log written)";

    private async Task RunAsync(string fileName, IReadOnlyList<string> arguments, bool asServerUser = true)
    {
        var (command, all) = asServerUser && _asRoot ? ("runuser", new[] { "-u", SystemUser, "--", fileName }.Concat(arguments)) : (fileName, arguments);
        ToolProcess.Result result;
        try
        {
            result = await ToolProcess.RunAsync(command, all, CommandDeadline, _root);
        }
        catch (TimeoutException ex)
        {
            throw new InvalidOperationException($"{ex.Message} Server log:{Environment.NewLine}{ReadLog()}", ex);
        }

        if (result.ExitCode != 0)
        {
            var hint = _asRoot && fileName.StartsWith(BinDirectory, StringComparison.Ordinal)
                ? $" (ran as the '{SystemUser}' system user via runuser: the postgresql package creates that user)"
                : string.Empty;
            throw new InvalidOperationException(
                $"`{result.CommandLine}` failed with exit code {result.ExitCode}{hint}.{Environment.NewLine}{result.Output}{result.Error}{Environment.NewLine}Server log:{Environment.NewLine}{ReadLog()}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
