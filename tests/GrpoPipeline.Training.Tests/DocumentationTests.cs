using System.Text;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The Markdown pages of the repository (README, docs/, the package READMEs, the experiment write-ups): every relative
/// link reaches a file or folder that exists, and every <c>#anchor</c> a heading of its page; the README's test command
/// is the one <c>.ci/run</c> runs.
/// </summary>
[TestFixture]
public sealed partial class DocumentationTests
{
    /// <summary>Folders that hold build output, generated runs and reports, or tooling, not documentation.</summary>
    static readonly string[] Skipped = ["bin", "obj", "artifacts", "node_modules", "models/runs", "models/reports"];

    static IEnumerable<string> Pages()
    {
        var root = TestConfigs.RepoRoot();
        return Directory.EnumerateFiles(root, "*.md", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').SkipLast(1).Any(d => d.StartsWith('.')))
            .Where(f => !Skipped.Any(s => f.StartsWith(s + "/", StringComparison.Ordinal) || f.Contains("/" + s + "/", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);
    }

    [Test]
    public void The_Pages_Checked_Include_The_Readme_And_Every_Docs_Page()
    {
        var pages = Pages().ToList();
        var docs = Directory.GetFiles(Path.Combine(TestConfigs.RepoRoot(), "docs"), "*.md").Select(f => "docs/" + Path.GetFileName(f));
        Assert.That(pages, Does.Contain("README.md").And.Contains("docs/configuration.md"), "premise: the pages were found");
        Assert.That(pages, Is.SupersetOf(docs));
    }

    [TestCaseSource(nameof(Pages))]
    public void Every_Relative_Link_Reaches_A_File_And_Every_Anchor_A_Heading(string page)
    {
        AnchorsFollowGitHubHeadingIds();
        var root = TestConfigs.RepoRoot();
        var problems = new List<string>();
        int checkedLinks = 0;
        foreach (var (line, target) in Links(File.ReadAllLines(Path.Combine(root, page))))
        {
            if (Uri.TryCreate(target, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "mailto") continue;
            checkedLinks++;
            int hash = target.IndexOf('#');
            string path = hash < 0 ? target : target[..hash], anchor = hash < 0 ? "" : target[(hash + 1)..];
            string file = path.Length == 0 ? page : Path.GetRelativePath(root, Path.GetFullPath(Path.Combine(root, Path.GetDirectoryName(page)!, Uri.UnescapeDataString(path)))).Replace('\\', '/');
            var full = Path.Combine(root, file);
            if (!File.Exists(full) && !Directory.Exists(full)) { problems.Add($"line {line}: '{target}': {file} does not exist"); continue; }
            if (anchor.Length == 0) continue;
            if (!file.EndsWith(".md", StringComparison.Ordinal)) { problems.Add($"line {line}: '{target}': an anchor into a file that is not Markdown"); continue; }
            var anchors = Anchors(File.ReadAllLines(full));
            if (!anchors.Contains(anchor)) problems.Add($"line {line}: '{target}': {file} has no heading '#{anchor}' (it has {string.Join(", ", anchors.Select(a => "#" + a))})");
        }
        TestContext.Out.WriteLine($"{page}: {checkedLinks} relative links checked");
        Assert.That(problems, Is.Empty, $"{page} has broken links");
    }

    [Test]
    public void The_Readme_Test_Command_Is_The_One_Ci_Runs()
    {
        var root = TestConfigs.RepoRoot();
        var quickStart = Section(File.ReadAllLines(Path.Combine(root, "README.md")), "## Quick start");
        var commands = quickStart.Where(l => l.StartsWith("dotnet ", StringComparison.Ordinal))
            .Select(l => (l.Contains('#') ? l[..l.IndexOf('#')] : l).Trim()).ToList();
        Assert.That(commands, Is.EqualTo(new[] { "dotnet tool restore && dotnet cake", "dotnet tool restore && dotnet cake --target=Test" }),
            "the README's Quick start gives exactly the main job and the test command");
        var ci = File.ReadAllLines(Path.Combine(root, ".ci", "run")).Where(l => !l.TrimStart().StartsWith('#'));
        Assert.That(ci.Any(l => l.Trim().StartsWith(commands[1] + " ", StringComparison.Ordinal)), Is.True,
            $".ci/run runs the README's test command '{commands[1]}'");
    }


    /// <summary>The premise of the link check: headings become GitHub's ids (lower case, punctuation dropped, repeats numbered).</summary>
    static void AnchorsFollowGitHubHeadingIds()
    {
        var anchors = Anchors(["# Title", "## The `grpo experiment` command", "### Stretch: L=8, V=32", "## The lecture's experiments, reproduced",
            "```bash", "# not a heading", "```", "## Faults, and what a run does about them", "## Tests", "## Tests"]);
        Assert.That(anchors, Is.EquivalentTo(new[] { "title", "the-grpo-experiment-command", "stretch-l8-v32", "the-lectures-experiments-reproduced",
            "faults-and-what-a-run-does-about-them", "tests", "tests-1" }), "premise: anchors are computed as GitHub does");
    }

    /// <summary>Inline links <c>[text](target)</c> outside code, with their line numbers.</summary>
    static IEnumerable<(int Line, string Target)> Links(string[] lines)
    {
        bool fenced = false;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal)) { fenced = !fenced; continue; }
            if (fenced) continue;
            var text = InlineCode().Replace(lines[i], "");
            foreach (Match m in Link().Matches(text)) yield return (i + 1, m.Groups["target"].Value);
        }
    }

    /// <summary>The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered.</summary>
    static HashSet<string> Anchors(IEnumerable<string> lines)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        bool fenced = false;
        foreach (var line in lines)
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) { fenced = !fenced; continue; }
            if (fenced || Heading().Match(line) is not { Success: true } m) continue;
            var text = Link().Replace(m.Groups["text"].Value, l => l.Groups["text"].Value);
            var id = new StringBuilder();
            foreach (var c in text.ToLowerInvariant())
                if (char.IsLetterOrDigit(c) || c is '-' or '_') id.Append(c);
                else if (c == ' ') id.Append('-');
            var slug = id.ToString();
            int n = seen.GetValueOrDefault(slug);
            seen[slug] = n + 1;
            ids.Add(n == 0 ? slug : $"{slug}-{n}");
        }
        return ids;
    }

    /// <summary>The lines after <paramref name="heading"/> up to the next heading of any level (outside code).</summary>
    static List<string> Section(string[] lines, string heading)
    {
        int start = Array.IndexOf(lines, heading);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"premise: the README has '{heading}'");
        var section = new List<string>();
        bool fenced = false;
        foreach (var line in lines.Skip(start + 1))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) fenced = !fenced;
            else if (!fenced && line.StartsWith('#')) break;
            section.Add(line);
        }
        return section;
    }

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"\[(?<text>[^\]]*)\]\((?<target>[^)\s]+)(\s+""[^""]*"")?\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^#{1,6}\s+(?<text>.+?)\s*#*\s*$")]
    private static partial Regex Heading();
}
