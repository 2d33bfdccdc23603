namespace GrpoPipeline.Evaluation;

/// <summary>Paths of the files <see cref="ReportWriter.Write"/> wrote.</summary>
public sealed record ReportFiles(string Json, string Markdown, string Png);

/// <summary>Writes an <see cref="EvaluationReport"/> into a directory.</summary>
public static class ReportWriter
{
    public const string JsonFile = "evaluation.json", MarkdownFile = "evaluation.md", PngFile = "evaluation.png";

    /// <summary>
    /// Writes <c>evaluation.json</c> (machine-readable), <c>evaluation.md</c> (the leaderboard) and
    /// <c>evaluation.png</c> (per-position accuracy and reward distribution per model) into <paramref name="directory"/>.
    /// </summary>
    public static ReportFiles Write(EvaluationReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new ReportFiles(
            Path.GetFullPath(Path.Combine(directory, JsonFile)),
            Path.GetFullPath(Path.Combine(directory, MarkdownFile)),
            Path.GetFullPath(Path.Combine(directory, PngFile)));
        WriteAtomically(files.Json, report.ToJson() + "\n");
        WriteAtomically(files.Markdown, report.ToMarkdown());
        EvaluationPlot.Write(report, files.Png);
        return files;
    }

    /// <summary>Temp file then rename, so a reader never sees half a report.</summary>
    internal static void WriteAtomically(string path, string text)
    {
        var tmp = $"{path}.tmp-{Environment.ProcessId}";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
