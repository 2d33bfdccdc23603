using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GrpoPipeline.Evaluation;

/// <summary>A prompt that does not fit a model's contract: reported, never silently dropped.</summary>
/// <param name="Line">Line of the CSV file it came from.</param>
/// <param name="Prompt">The prompt's tokens, space-separated.</param>
/// <param name="Reason">Why the model cannot take it.</param>
public sealed record InvalidPrompt(int Line, string Prompt, string Reason);

/// <summary>One model's metrics on the evaluation prompts; the JSON report's entries use these names in camelCase.</summary>
public sealed record ModelEvaluation
{
    /// <summary>1-based place on the leaderboard (exact match, then mean reward).</summary>
    public int Rank { get; init; }
    /// <summary>Full path of the ONNX file.</summary>
    public required string Model { get; init; }
    /// <summary>Training run the model was exported from (metadata <c>grpo.run</c>).</summary>
    public required string Run { get; init; }
    /// <summary>Epoch it was exported at (metadata <c>grpo.epoch</c>).</summary>
    public int Epoch { get; init; }
    /// <summary>Policy architecture (metadata <c>grpo.policy</c>).</summary>
    public required string Policy { get; init; }
    /// <summary>The model's prompt length L.</summary>
    public int PromptLength { get; init; }
    /// <summary>The model's vocabulary size V.</summary>
    public int VocabSize { get; init; }
    /// <summary>Where the prompts came from, e.g. the split rule and seed, or the CSV file.</summary>
    public required string PromptSource { get; init; }

    /// <summary>Prompts scored (invalid ones excluded).</summary>
    public int Prompts { get; init; }
    /// <summary>Prompts answered with exactly the sorted prompt.</summary>
    public int ExactMatches { get; init; }
    /// <summary>Share of exact matches.</summary>
    public double ExactMatch { get; init; }
    /// <summary>95% Wilson interval of <see cref="ExactMatch"/>.</summary>
    public ConfidenceInterval ExactMatchInterval { get; init; }
    /// <summary>Mean of the lecture's inclusion + ordering reward.</summary>
    public double MeanInclusionOrdering { get; init; }
    /// <summary>Largest possible inclusion + ordering reward, 2L−1.</summary>
    public int MaxInclusionOrdering { get; init; }
    /// <summary><see cref="MeanInclusionOrdering"/> ÷ <see cref="MaxInclusionOrdering"/>.</summary>
    public double NormalizedInclusionOrdering { get; init; }
    /// <summary>Mean sort-distance reward: the share of positions equal to the sorted prompt (0..1).</summary>
    public double MeanSortDistance { get; init; }
    /// <summary>Accuracy at each response position.</summary>
    public required double[] PerPositionAccuracy { get; init; }
    /// <summary>Share of prompt tokens found in the response.</summary>
    public double InclusionRate { get; init; }
    /// <summary>Share of adjacent response pairs in order.</summary>
    public double OrderingRate { get; init; }
    /// <summary>Prompts per inclusion + ordering value 0..2L−1.</summary>
    public required int[] InclusionOrderingDistribution { get; init; }

    /// <summary>Prompts the model cannot take (wrong length, token out of range).</summary>
    public int InvalidPrompts { get; init; }
    /// <summary>Each of them, with its line and reason.</summary>
    public required IReadOnlyList<InvalidPrompt> Invalid { get; init; }

    internal static ModelEvaluation From(ModelInfo model, string source, SortSummary s, IReadOnlyList<InvalidPrompt> invalid) => new()
    {
        Model = model.Path, Run = model.Run, Epoch = model.Epoch, Policy = model.Policy,
        PromptLength = model.PromptLength, VocabSize = model.VocabSize, PromptSource = source,
        Prompts = s.Prompts, ExactMatches = s.ExactMatches, ExactMatch = s.ExactMatch, ExactMatchInterval = s.ExactMatchInterval,
        MeanInclusionOrdering = s.MeanInclusionOrdering, MaxInclusionOrdering = s.MaxInclusionOrdering,
        NormalizedInclusionOrdering = s.NormalizedInclusionOrdering, MeanSortDistance = s.MeanSortDistance,
        PerPositionAccuracy = s.PerPositionAccuracy,
        InclusionRate = s.InclusionRate, OrderingRate = s.OrderingRate, InclusionOrderingDistribution = s.InclusionOrderingDistribution,
        InvalidPrompts = invalid.Count, Invalid = invalid,
    };
}

/// <summary>The model facts an evaluation reports, read from the ONNX metadata.</summary>
sealed record ModelInfo(string Path, string Run, int Epoch, string Policy, int PromptLength, int VocabSize);

/// <summary>The evaluation of one or more models: a leaderboard sorted by exact match, then sort distance.</summary>
public sealed record EvaluationReport
{
    /// <summary>The prompts every model was asked to sort.</summary>
    public required string Source { get; init; }
    /// <summary>One entry per model, best first.</summary>
    public required IReadOnlyList<ModelEvaluation> Models { get; init; }

    /// <summary>camelCase, indented.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// Orders <paramref name="models"/> by exact match, then by the sort-distance reward (a share, so it compares models
    /// of any length; both descending; ties keep their input order) and numbers their ranks.
    /// </summary>
    public static EvaluationReport Rank(string source, IEnumerable<ModelEvaluation> models) => new()
    {
        Source = source,
        Models = models.OrderByDescending(m => m.ExactMatch).ThenByDescending(m => m.MeanSortDistance)
            .Select((m, i) => m with { Rank = i + 1 }).ToList(),
    };

    /// <summary>The report as indented camelCase JSON (<c>evaluation.json</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static EvaluationReport FromJson(string json) =>
        JsonSerializer.Deserialize<EvaluationReport>(json, Json) ?? throw new JsonException("the report is null");

    /// <summary>The leaderboard as a Markdown table (also what the CLI prints).</summary>
    public string LeaderboardMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine("| Rank | Model | Run | Epoch | Policy | Prompts | Exact match [95% CI] | Sort distance | Inclusion + ordering | Inclusion | Ordering | Invalid |");
        md.AppendLine("|---:|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|");
        foreach (var m in Models)
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {m.Rank} | {Cell(Path.GetFileName(m.Model))} | {Cell(m.Run)} | {m.Epoch} | {Cell(m.Policy)} | {m.Prompts} | " +
                $"{Percent(m.ExactMatch)} [{Percent(m.ExactMatchInterval.Low)}, {Percent(m.ExactMatchInterval.High)}] | {m.MeanSortDistance:F3} | " +
                $"{m.MeanInclusionOrdering:F2} / {m.MaxInclusionOrdering} | {m.InclusionRate:F3} | {m.OrderingRate:F3} | {m.InvalidPrompts} |"));
        return md.ToString();
    }

    /// <summary>The whole Markdown report: the leaderboard, per-position accuracy, and the invalid prompts.</summary>
    public string ToMarkdown(int maxListedInvalid = 50)
    {
        var md = new StringBuilder();
        md.AppendLine("# Evaluation").AppendLine();
        md.AppendLine($"Prompts: {Source}. Greedy responses scored through ML.NET. Each reward component is reported under its own " +
            "name: exact match (with a 95% Wilson interval), sort distance (the share of positions equal to the sorted prompt) and the " +
            "lecture's inclusion + ordering (of 2L−1).").AppendLine();
        md.Append(LeaderboardMarkdown()).AppendLine();
        md.AppendLine("## Per-position accuracy").AppendLine();
        int positions = Models.Max(m => m.PerPositionAccuracy.Length);
        md.AppendLine("| Model | " + string.Join(" | ", Enumerable.Range(0, positions).Select(i => $"pos {i}")) + " |");
        md.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", positions)));
        foreach (var m in Models)
            md.AppendLine($"| {Cell(Path.GetFileName(m.Model))} | " +
                string.Join(" | ", Enumerable.Range(0, positions).Select(i => i < m.PerPositionAccuracy.Length ? m.PerPositionAccuracy[i].ToString("F3", CultureInfo.InvariantCulture) : "")) + " |");
        foreach (var m in Models.Where(m => m.InvalidPrompts > 0))
        {
            md.AppendLine().AppendLine($"## Invalid prompts for {Path.GetFileName(m.Model)} ({m.InvalidPrompts})").AppendLine();
            md.AppendLine("| Line | Prompt | Reason |").AppendLine("|---:|---|---|");
            foreach (var p in m.Invalid.Take(maxListedInvalid)) md.AppendLine($"| {p.Line} | {Cell(p.Prompt)} | {Cell(p.Reason)} |");
            if (m.InvalidPrompts > maxListedInvalid) md.AppendLine($"\n…and {m.InvalidPrompts - maxListedInvalid} more in evaluation.json.");
        }
        return md.ToString();
    }

    static string Percent(double share) => (share * 100).ToString("F1", CultureInfo.InvariantCulture) + "%";
    static string Cell(string text) => text.Replace("|", "\\|");
}
