using System.Text.RegularExpressions;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The Training library's layout, read from its sources: the folders depend on each other without a cycle, and no code
/// outside the policy kinds asks which kind a policy is.
/// </summary>
[TestFixture]
public sealed partial class ArchitectureTests
{
    static string Source => Path.Combine(TestConfigs.RepoRoot(), "src", "GrpoPipeline.Training");

    /// <summary>Every source file by its folder under the project ("." for the project's own folder).</summary>
    static Dictionary<string, string> Files() => Directory.GetFiles(Source, "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
        .ToDictionary(f => f, f => Path.GetRelativePath(Source, Path.GetDirectoryName(f)!).Split(Path.DirectorySeparatorChar)[0]);

    /// <summary>The code of a file without its comments (a <c>see cref</c> is documentation, not a dependency).</summary>
    static string Code(string file) => CommentPattern().Replace(File.ReadAllText(file), "");

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();

    [GeneratedRegex(@"\b(?:class|record|struct|enum|interface)\s+(?:struct\s+|class\s+)?([A-Z]\w*)")]
    private static partial Regex DeclarationPattern();

    /// <summary>Folder → the folders whose types its code names.</summary>
    static Dictionary<string, HashSet<string>> FolderDependencies()
    {
        var files = Files();
        var owner = new Dictionary<string, string>();
        foreach (var (file, folder) in files)
            foreach (Match m in DeclarationPattern().Matches(Code(file)))
                owner.TryAdd(m.Groups[1].Value, folder);
        // A name declared in two folders (a private nested type, say) says nothing about a dependency.
        var ambiguous = files.SelectMany(f => DeclarationPattern().Matches(Code(f.Key)).Select(m => (Name: m.Groups[1].Value, Folder: f.Value)))
            .GroupBy(d => d.Name).Where(g => g.Select(d => d.Folder).Distinct().Count() > 1).Select(g => g.Key).ToHashSet();
        var graph = files.Values.Distinct().ToDictionary(f => f, _ => new HashSet<string>());
        foreach (var (file, folder) in files)
        {
            var code = Code(file);
            foreach (var (name, declaredIn) in owner)
                // Not after a dot: config.Task.Curriculum is a property, not the Curriculum type.
                if (declaredIn != folder && !ambiguous.Contains(name) && Regex.IsMatch(code, $@"(?<![.\w]){name}\b"))
                    graph[folder].Add(declaredIn);
        }
        return graph;
    }

    [Test]
    public void Training_Folders_Depend_On_Each_Other_Without_A_Cycle()
    {
        var graph = FolderDependencies();
        Assert.That(graph.Keys, Does.Contain("Policies").And.Contain("Rollouts"), "premise: the sources were found and read");
        var cycles = new List<string>();
        foreach (var start in graph.Keys)
            foreach (var next in graph[start])
                if (Reaches(graph, next, start, [])) cycles.Add($"{start} → {next} → … → {start}");
        Assert.That(cycles, Is.Empty, "folders that depend on each other: " + string.Join("; ", graph.Select(kv => $"{kv.Key} → {string.Join(", ", kv.Value.Order())}")));
    }

    static bool Reaches(Dictionary<string, HashSet<string>> graph, string from, string to, HashSet<string> seen) =>
        from == to || (seen.Add(from) && graph[from].Any(next => Reaches(graph, next, to, seen)));

    [Test]
    public void Only_A_Policy_Kind_Names_A_Concrete_Policy_Type_In_A_Type_Test()
    {
        var concrete = new[] { "SeedPolicy", "FactorisedTransformerPolicy", "DecoderPolicy", "FactorisedPolicy" };
        var pattern = new Regex($@"\b(?:is|as)\s+(?:{string.Join('|', concrete)})\b|\((?:{string.Join('|', concrete)})\)\s*\w|case\s+(?:{string.Join('|', concrete)})\b|\b(?:{string.Join('|', concrete)})\s+\w+\s*=>");
        var roots = new[] { "src", "tools", "samples" }.Select(d => Path.Combine(TestConfigs.RepoRoot(), d)).Where(Directory.Exists);
        var offenders = roots.SelectMany(r => Directory.GetFiles(r, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => !f.StartsWith(Path.Combine(Source, "Policies") + Path.DirectorySeparatorChar))
            .Where(f => pattern.IsMatch(Code(f)))
            .Select(f => Path.GetRelativePath(TestConfigs.RepoRoot(), f)).ToList();
        Assert.That(offenders, Is.Empty, "these files ask which kind a policy is; ask the GrpoPolicy instead");
    }
}
