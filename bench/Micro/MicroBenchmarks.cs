using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace OrleansReplication.Bench.Micro;

/// <summary>
/// BenchmarkDotNet microbenchmarks of the hot paths, in process (no generated project to build on
/// a busy 2-core machine), with allocations reported by the memory diagnoser.
/// </summary>
internal static class MicroBenchmarks
{
    public static void Run(string[] args)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        BenchmarkSwitcher.FromTypes([typeof(StandbyApplyBenchmarks)]).Run(args.Length == 0 ? ["--filter", "*"] : args, config);
    }
}
