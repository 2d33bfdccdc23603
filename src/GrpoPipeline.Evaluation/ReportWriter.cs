using GrpoPipeline.Core;

namespace GrpoPipeline.Evaluation;

/// <summary>Paths of the files <see cref="ReportWriter.Write"/> wrote.</summary>
public sealed record ReportFiles(string Json, string Markdown, string Png);

/// <summary>Writes an <see cref="EvaluationReport"/> into a directory.</summary>
public static class ReportWriter
{
    /// <summary>The machine-readable report.</summary>
    public const string JsonFile = "evaluation.json";
    /// <summary>The leaderboard and tables (exact match per length among them).</summary>
    public const string MarkdownFile = "evaluation.md";
    /// <summary>The chart.</summary>
    public const string PngFile = "evaluation.png";

    /// <summary>
    /// Writes <c>evaluation.json</c> (machine-readable), <c>evaluation.md</c> (the leaderboard) and
    /// <c>evaluation.png</c> (per-position accuracy, reward distribution and exact match by prompt length per model) into
    /// <paramref name="directory"/>.
    /// </summary>
    public static ReportFiles Write(EvaluationReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new ReportFiles(
            Path.GetFullPath(Path.Combine(directory, JsonFile)),
            Path.GetFullPath(Path.Combine(directory, MarkdownFile)),
            Path.GetFullPath(Path.Combine(directory, PngFile)));
        AtomicFile.WriteAllText(files.Json, report.ToJson() + "\n");
        AtomicFile.WriteAllText(files.Markdown, report.ToMarkdown());
        EvaluationPlot.Write(report, files.Png);
        return files;
    }
}
