using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace OrleansReplication.Tests.Hosting;

/// <summary>
/// Every C# example of the README compiles against the project's assemblies, as pasted into a new
/// project (the SDK's implicit usings and Orleans' global ones, nothing else): an example that no
/// longer compiles is a README that lies.
/// </summary>
public sealed partial class ReadmeExamplesTests
{
    // What a new console/library project with <ImplicitUsings> and the Orleans packages has in scope.
    private const string GlobalUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using Orleans;
        global using Orleans.Hosting;
        global using Orleans.Runtime;
        """;

    public static TheoryData<int> Examples => [.. Enumerable.Range(0, ReadExamples().Count)];

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_CompilesAgainstTheProject(int index)
    {
        var example = ReadExamples()[index];
        // A program (top-level statements at the start of a line) or a library of types.
        var topLevel = Regex.IsMatch(example, "^(var|await|using var) ", RegexOptions.Multiline);
        var compilation = CSharpCompilation.Create(
            "ReadmeExample" + index,
            [CSharpSyntaxTree.ParseText(GlobalUsings), CSharpSyntaxTree.ParseText(example)],
            References(),
            new CSharpCompilationOptions(topLevel ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"README example {index + 1} does not compile:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}{Environment.NewLine}{example}");
    }

    private static List<string> ReadExamples()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        return [.. CSharpBlock().Matches(readme).Select(m => m.Groups[1].Value)];
    }

    // The assemblies a project referencing OrleansReplication.Client and .Grains (and the hosting packages) compiles against.
    private static List<MetadataReference> References()
    {
        Type[] packages = [typeof(Client.ReplicationClient), typeof(Grains.State.IReplicatedState<>), typeof(Microsoft.Extensions.Hosting.Host), typeof(Orleans.Grain), typeof(Orleans.Hosting.ISiloBuilder)];
        return [.. AppDomain.CurrentDomain.GetAssemblies().Concat(packages.Select(t => t.Assembly))
            .Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Select(a => a.Location)
            .Distinct()
            .Select(location => MetadataReference.CreateFromFile(location))];
    }

    private static string RepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "OrleansReplication.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No OrleansReplication.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
