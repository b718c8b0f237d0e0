namespace OrleansReplication.Testing.Processes;

/// <summary>
/// Where the silo executable is: the repository holding OrleansReplication.sln above the running
/// assembly (a test or benchmark build), and that build's configuration, used for the silo too.
/// </summary>
public static class SiloBuild
{
    private static readonly Lazy<(string RepoRoot, string Configuration)> Build = new(Find);

    /// <summary>The repository root (the folder holding OrleansReplication.sln).</summary>
    public static string RepoRoot => Build.Value.RepoRoot;

    /// <summary>The build configuration (Debug or Release) of the running assembly.</summary>
    public static string Configuration => Build.Value.Configuration;

    /// <summary>The silo executable's assembly.</summary>
    public static string SiloDll => Path.Combine(RepoRoot, "Silo", "bin", Configuration, "net10.0", "OrleansReplication.Silo.dll");

    /// <summary>Walks up from the running assembly to the folder holding OrleansReplication.sln; the configuration is the folder under <c>bin</c>.</summary>
    private static (string RepoRoot, string Configuration) Find()
    {
        var baseDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);

        // .../<project>/bin/<Configuration>/net10.0
        var configuration = Path.GetFileName(Path.GetDirectoryName(baseDir)) ?? string.Empty;
        if (configuration.Length == 0 || !string.Equals(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(baseDir))), "bin", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Cannot tell the build configuration from the assembly folder '{baseDir}'; expected .../bin/<Configuration>/net10.0.");
        }

        for (var dir = new DirectoryInfo(baseDir); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansReplication.sln")))
            {
                return (dir.FullName, configuration);
            }
        }

        throw new InvalidOperationException($"No folder above '{baseDir}' holds OrleansReplication.sln; run from the repository.");
    }
}
