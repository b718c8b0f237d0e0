using OrleansReplication.Bench.Cluster;
using OrleansReplication.Testing.Processes;

namespace OrleansReplication.Bench;

/// <summary>The command line of one benchmark invocation.</summary>
internal sealed class BenchSettings
{
    public string Command { get; set; } = "all";

    /// <summary>W1 safety levels to measure; null: local and applied (and durable for reference under <c>all</c>).</summary>
    public List<SafetyLevel>? Safety { get; set; }

    public string? Peer { get; set; }

    public string Storage { get; set; } = "sqlite";

    /// <summary>Whether <c>--storage</c> was given (nemesis: every schedule on it; otherwise the seed's parity picks).</summary>
    public bool StorageGiven { get; set; }

    /// <summary>Nemesis schedules to run (<c>--schedules</c>).</summary>
    public int Schedules { get; set; } = 10;

    /// <summary>The first nemesis seed (<c>--first-seed</c>); seeds 1-4 are the test suite's slice.</summary>
    public int FirstSeed { get; set; } = 1000;

    public PostgresServer? Postgres { get; set; }

    public int Runs { get; set; } = 3;

    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(3);

    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(15);

    public int Concurrency { get; set; } = 16;

    /// <summary>Whether W1 also measures the bare Orleans call (the ceiling line); off for profiling scripts that sample the replicated writes.</summary>
    public bool Ceiling { get; set; } = true;

    /// <summary>Orleans clients the workers share (worker w uses client w mod N); null: one per worker.</summary>
    public int? Clients { get; set; }

    public int Keys { get; set; } = 100_000;

    /// <summary>Silos of W1 (default 2: primary + standby for every partition, like Redis' primary + replica).</summary>
    public int W1Silos { get; set; } = 2;

    public int W3Items { get; set; } = 1_000_000;

    public int W5Items { get; set; } = 100_000;

    public int W6Grains { get; set; } = 100_000;

    /// <summary>Items verified by the anti-entropy workload (<c>--ae-items</c>).</summary>
    public int AeItems { get; set; } = 1_000_000;

    /// <summary>The JSON file of every run; by default under bench/results (git-ignored).</summary>
    public string Output { get; set; } = Path.Combine(SiloBuild.RepoRoot, "bench", "results", $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");

    public string[] MicroArguments { get; set; } = [];

    /// <summary>Extra environment of every silo process (<c>--silo-env NAME=VALUE</c>), e.g. <c>DOTNET_PerfMapEnabled=1</c> for perf.</summary>
    public Dictionary<string, string> SiloEnvironment { get; } = [];

    public static string Usage => """
        usage: dotnet run -c Release --project bench -- <command> [options]
          commands: w1 | w2 | w3 | w4 | w5 | w6 | ae | all | nemesis | micro [BenchmarkDotNet arguments]
          --safety local|received|applied|durable   W1 safety level (repeatable; default local and applied)
          --peer redis                              also run Redis (W1: primary + replica; W2: + 3 sentinels)
          --storage sqlite|postgres                 the silos' store (postgres: a PostgreSQL 15 server is started)
          --runs N                                  runs per measurement; the median is quoted (default 3)
          --warmup S  --duration S                  W1 warm-up and measured seconds (default 3 and 15)
          --concurrency N                           closed-loop clients (default 16)
          --clients N                               Orleans clients those workers share (default: one per worker)
          --no-ceiling                              W1 without the bare Orleans call line (for the profiling scripts)
          --w1-silos N                              silos of W1 (default 2; 1 = no standby, no redirects, for profiling)
          --w3-items N  --w5-items N                item counts of W3 (1,000,000) and W5 (100,000)
          --w6-grains N                             user grains of W6 (100,000; it starts PostgreSQL unless --storage postgres)
          --ae-items N                              items the anti-entropy workload verifies (1,000,000)
          --silo-env NAME=VALUE                     environment of every silo process (repeatable), e.g. DOTNET_PerfMapEnabled=1
          --schedules N  --first-seed S             nemesis: N schedules from seed S (default 10 from 1000; odd seeds SQLite, even PostgreSQL unless --storage)
          --out FILE                                the JSON file of every run (default bench/results/bench-<time>.json)
        """;

    public static BenchSettings Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            throw new ArgumentException(Usage);
        }

        var settings = new BenchSettings { Command = args[0].ToLowerInvariant() };
        if (settings.Command == "micro")
        {
            settings.MicroArguments = args[1..];
            return settings;
        }

        if (settings.Command is not ("w1" or "w2" or "w3" or "w4" or "w5" or "w6" or "ae" or "all" or "nemesis"))
        {
            throw new ArgumentException($"Unknown command '{args[0]}'.\n{Usage}");
        }

        for (var i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            int Number() => int.TryParse(Value(), out var n) && n > 0 ? n : throw new ArgumentException($"{args[i - 1]} needs a positive integer.");
            switch (args[i])
            {
                case "--safety":
                    var name = Value();
                    (settings.Safety ??= []).Add(Enum.TryParse<SafetyLevel>(name, ignoreCase: true, out var level) && level != SafetyLevel.Default
                        ? level
                        : throw new ArgumentException($"--safety '{name}' is not one of local, received, applied, durable."));
                    break;
                case "--peer":
                    settings.Peer = Value() is "redis" ? "redis" : throw new ArgumentException("--peer supports only 'redis'.");
                    break;
                case "--storage":
                    settings.Storage = Value() is var s && s is "sqlite" or "postgres" ? s : throw new ArgumentException("--storage is sqlite or postgres.");
                    settings.StorageGiven = true;
                    break;
                case "--schedules":
                    settings.Schedules = Number();
                    break;
                case "--first-seed":
                    settings.FirstSeed = Number();
                    break;
                case "--runs":
                    settings.Runs = Number();
                    break;
                case "--warmup":
                    settings.Warmup = TimeSpan.FromSeconds(Number());
                    break;
                case "--duration":
                    settings.Duration = TimeSpan.FromSeconds(Number());
                    break;
                case "--concurrency":
                    settings.Concurrency = Number();
                    break;
                case "--no-ceiling":
                    settings.Ceiling = false;
                    break;
                case "--clients":
                    settings.Clients = Number();
                    break;
                case "--w1-silos":
                    settings.W1Silos = Number();
                    break;
                case "--w3-items":
                    settings.W3Items = Number();
                    break;
                case "--w5-items":
                    settings.W5Items = Number();
                    break;
                case "--w6-grains":
                    settings.W6Grains = Number();
                    break;
                case "--ae-items":
                    settings.AeItems = Number();
                    break;
                case "--silo-env":
                    var pair = Value().Split('=', 2);
                    settings.SiloEnvironment[pair[0]] = pair.Length == 2 && pair[0].Length > 0 ? pair[1] : throw new ArgumentException("--silo-env needs NAME=VALUE.");
                    break;
                case "--out":
                    settings.Output = Path.GetFullPath(Value());
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.\n{Usage}");
            }
        }

        return settings;
    }
}
