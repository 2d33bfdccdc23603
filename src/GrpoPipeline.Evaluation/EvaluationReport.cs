using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;

namespace GrpoPipeline.Evaluation;

/// <summary>A prompt that does not fit a model's contract: reported, never silently dropped.</summary>
/// <param name="Line">Line of the CSV file it came from.</param>
/// <param name="Prompt">The prompt's tokens, space-separated.</param>
/// <param name="Reason">Why the model cannot take it.</param>
public sealed record InvalidPrompt(int Line, string Prompt, string Reason);

/// <summary>One model's metrics on the evaluation prompts; the JSON report's entries use these names in camelCase.</summary>
public sealed record ModelEvaluation
{
    /// <summary>1-based place on its task's leaderboard (exact match, then mean reward share).</summary>
    public int Rank { get; init; }
    /// <summary>Full path of the ONNX file.</summary>
    public required string Model { get; init; }
    /// <summary>The task the model was trained on and is scored with (metadata <c>grpo.task</c>).</summary>
    public required string Task { get; init; }
    /// <summary>Training run the model was exported from (metadata <c>grpo.run</c>).</summary>
    public required string Run { get; init; }
    /// <summary>Epoch it was exported at (metadata <c>grpo.epoch</c>).</summary>
    public int Epoch { get; init; }
    /// <summary>Policy architecture (metadata <c>grpo.policy</c>).</summary>
    public required string Policy { get; init; }
    /// <summary>The ONNX contract the model follows: <c>factorised/1</c> (one pass, length L) or <c>decoder/1</c> (token by token, lengths min..max).</summary>
    public required string Contract { get; init; }
    /// <summary>The model's prompt length L; the longest prompt of a decoder.</summary>
    public int PromptLength { get; init; }
    /// <summary>Shortest prompt the model takes (L for a factorised policy).</summary>
    public int MinLength { get; init; }
    /// <summary>Longest prompt the model takes (L for a factorised policy).</summary>
    public int MaxLength { get; init; }
    /// <summary>The model's vocabulary size V.</summary>
    public int VocabSize { get; init; }
    /// <summary>Where the prompts came from, e.g. the split rule and seed, or the CSV file.</summary>
    public required string PromptSource { get; init; }

    /// <summary>Prompts scored (invalid ones excluded).</summary>
    public int Prompts { get; init; }
    /// <summary>Prompts answered exactly right (the task's correctness check).</summary>
    public int ExactMatches { get; init; }
    /// <summary>Share of exact matches.</summary>
    public double ExactMatch { get; init; }
    /// <summary>95% Wilson interval of <see cref="ExactMatch"/>.</summary>
    public ConfidenceInterval ExactMatchInterval { get; init; }
    /// <summary>Every reward component of the task, by name, with its mean.</summary>
    public required IReadOnlyList<ComponentMean> Rewards { get; init; }
    /// <summary>Mean reward (the task's default weights) over the most a response could earn, 0..1.</summary>
    public double MeanRewardShare { get; init; }
    /// <summary>Exact match and more per prompt length, shortest first (one entry for a factorised policy); the prompt
    /// count of each length is how many of its prompts were scored.</summary>
    public required IReadOnlyList<LengthSummary> ByLength { get; init; }
    /// <summary>Responses cut at the longest before EOS (always 0 for a factorised policy).</summary>
    public int Truncated { get; init; }
    /// <summary>Share of truncated responses.</summary>
    public double TruncatedShare { get; init; }
    /// <summary>Mean response length in tokens, EOS excluded.</summary>
    public double MeanResponseLength { get; init; }
    /// <summary>CSV prompts that fall in the model's training split (0 for held-out prompts, or a model without a split):
    /// scored like the rest, but their score is not a held-out score.</summary>
    public int TrainingSplitPrompts { get; init; }

    /// <summary>Prompts the model cannot take (wrong length, token out of range, not a prompt of its task).</summary>
    public int InvalidPrompts { get; init; }
    /// <summary>Each of them, with its line and reason.</summary>
    public required IReadOnlyList<InvalidPrompt> Invalid { get; init; }

    /// <summary>Whether the model is a <c>decoder/1</c> model.</summary>
    [JsonIgnore]
    public bool IsDecoder => Contract == OnnxContract.DecoderVersion;

    internal static ModelEvaluation From(ModelInfo model, string source, TaskSummary s, IReadOnlyList<InvalidPrompt> invalid) => new()
    {
        Model = model.Contract.Path, Task = s.Task, Run = model.Contract.RunName, Epoch = model.Contract.Epoch, Policy = model.Contract.PolicyKind,
        Contract = model.Contract.Version, PromptLength = model.Contract.Prompts.MaxLength, MinLength = model.Contract.Prompts.MinLength,
        MaxLength = model.Contract.Prompts.MaxLength, VocabSize = model.Contract.VocabSize, PromptSource = source,
        Prompts = s.Prompts, ExactMatches = s.ExactMatches, ExactMatch = s.ExactMatch, ExactMatchInterval = s.ExactMatchInterval,
        Rewards = s.Rewards, MeanRewardShare = s.MeanRewardShare,
        ByLength = s.ByLength, Truncated = s.Truncated, TruncatedShare = s.TruncatedShare, MeanResponseLength = s.MeanResponseLength,
        TrainingSplitPrompts = model.TrainingSplitPrompts, InvalidPrompts = invalid.Count, Invalid = invalid,
    };
}

/// <summary>The model an evaluation reports on: its checked contract (with the ONNX metadata), and how many CSV prompts are in its training split.</summary>
sealed record ModelInfo(PolicyContract Contract, int TrainingSplitPrompts);

/// <summary>
/// The evaluation of one or more models: a leaderboard per task (models of different tasks are not compared), each sorted
/// by exact match, then mean reward share.
/// </summary>
public sealed record EvaluationReport
{
    /// <summary>The prompts every model was asked to answer.</summary>
    public required string Source { get; init; }
    /// <summary>One entry per model, grouped by task (in name order), best first within a task.</summary>
    public required IReadOnlyList<ModelEvaluation> Models { get; init; }

    /// <summary>camelCase, indented; NaN (a rate with nothing to count) as <c>"NaN"</c>.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Groups <paramref name="models"/> by task and orders each group by exact match, then by mean reward share (a share,
    /// so it compares models of any length; both descending; ties keep their input order), numbering ranks per task.
    /// </summary>
    public static EvaluationReport Rank(string source, IEnumerable<ModelEvaluation> models) => new()
    {
        Source = source,
        Models = models.GroupBy(m => m.Task).OrderBy(g => g.Key, StringComparer.Ordinal)
            .SelectMany(g => g.OrderByDescending(m => m.ExactMatch).ThenByDescending(m => m.MeanRewardShare).Select((m, i) => m with { Rank = i + 1 }))
            .ToList(),
    };

    /// <summary>The tasks of the report's models, in the leaderboard's order.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Tasks => Models.Select(m => m.Task).Distinct().ToList();

    /// <summary>The report as indented camelCase JSON (<c>evaluation.json</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static EvaluationReport FromJson(string json) =>
        JsonSerializer.Deserialize<EvaluationReport>(json, Json) ?? throw new JsonException("the report is null");

    /// <summary>The leaderboards as Markdown, one table per task with its own reward components (also what the CLI prints).</summary>
    public string LeaderboardMarkdown()
    {
        var md = new StringBuilder();
        foreach (var task in Tasks)
        {
            var models = Models.Where(m => m.Task == task).ToList();
            var components = models[0].Rewards.Select(r => r.Name).ToList();
            if (Tasks.Count > 1) md.AppendLine($"**Task `{task}`**").AppendLine();
            md.AppendLine("| Rank | Model | Task | Run | Epoch | Policy | Contract | Lengths | Prompts | Exact match [95% CI] | Reward share | " +
                string.Concat(components.Select(c => $"{c} | ")) + "Truncated | Invalid |");
            md.AppendLine("|---:|---|---|---|---:|---|---|---:|---:|---|---:|" + string.Concat(components.Select(_ => "---:|")) + "---:|---:|");
            foreach (var m in models)
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {m.Rank} | {Cell(Path.GetFileName(m.Model))} | {Cell(m.Task)} | {Cell(m.Run)} | {m.Epoch} | {Cell(m.Policy)} | {m.Contract} | {Lengths(m)} | {m.Prompts} | " +
                    $"{WithInterval(m.ExactMatch, m.ExactMatchInterval)} | {m.MeanRewardShare:F3} | ") +
                    string.Concat(components.Select(c => string.Create(CultureInfo.InvariantCulture, $"{m.Rewards.FirstOrDefault(r => r.Name == c)?.Mean ?? double.NaN:F3} | "))) +
                    $"{m.Truncated} | {m.InvalidPrompts} |");
            md.AppendLine();
        }
        return md.ToString().TrimEnd() + Environment.NewLine;
    }

    /// <summary>
    /// Exact match per prompt length as a Markdown table, one row per model and length; with
    /// <paramref name="decodersOnly"/>, only the <c>decoder/1</c> models (what the CLI prints). Empty when no model qualifies.
    /// </summary>
    public string ByLengthMarkdown(bool decodersOnly = false)
    {
        var models = Models.Where(m => !decodersOnly || m.IsDecoder).ToList();
        if (models.Count == 0) return "";
        var md = new StringBuilder();
        md.AppendLine("| Model | Task | Length | Prompts | Exact match [95% CI] | Reward share | Mean response length | Truncated |");
        md.AppendLine("|---|---|---:|---:|---|---:|---:|---:|");
        foreach (var m in models)
            foreach (var l in m.ByLength)
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {Cell(Path.GetFileName(m.Model))} | {Cell(m.Task)} | {l.Length} | {l.Prompts} | " +
                    $"{WithInterval(l.ExactMatch, l.ExactMatchInterval)} | {l.MeanRewardShare:F3} | {l.MeanResponseLength:F2} | {l.Truncated} |"));
        return md.ToString();
    }

    /// <summary>The whole Markdown report: the leaderboards, exact match per length, and the invalid prompts.</summary>
    public string ToMarkdown(int maxListedInvalid = 50)
    {
        var md = new StringBuilder();
        md.AppendLine("# Evaluation").AppendLine();
        md.AppendLine($"Prompts: {Source}. Greedy responses scored through ML.NET: factorised/1 models with ApplyOnnxModel, decoder/1 models " +
            "with a transformer that decodes K prompts per batch. Each model is scored with its own task's correctness check (exact " +
            "match, with a 95% Wilson interval) and reward components, each under its own name; the reward share is the reward with " +
            "the task's default weights over the most a response could earn. Models of different tasks are ranked separately.").AppendLine();
        md.Append(LeaderboardMarkdown()).AppendLine();
        foreach (var m in Models.Where(m => m.TrainingSplitPrompts > 0))
            md.AppendLine($"Note: {m.TrainingSplitPrompts} of the {m.Prompts} prompts scored for {Path.GetFileName(m.Model)} are in its training split, so its scores are not held-out scores.").AppendLine();
        md.AppendLine("## Exact match per length").AppendLine();
        md.AppendLine("Each model is scored on the lengths it accepts; held-out prompts are spread evenly over them, and a length that holds " +
            "out fewer prompts than its share gives all it has, so the prompt count says how many each length had.").AppendLine();
        md.Append(ByLengthMarkdown());
        foreach (var m in Models.Where(m => m.InvalidPrompts > 0))
        {
            md.AppendLine().AppendLine($"## Invalid prompts for {Path.GetFileName(m.Model)} ({m.InvalidPrompts})").AppendLine();
            md.AppendLine("| Line | Prompt | Reason |").AppendLine("|---:|---|---|");
            foreach (var p in m.Invalid.Take(maxListedInvalid)) md.AppendLine($"| {p.Line} | {Cell(p.Prompt)} | {Cell(p.Reason)} |");
            if (m.InvalidPrompts > maxListedInvalid) md.AppendLine($"\n…and {m.InvalidPrompts - maxListedInvalid} more in evaluation.json.");
        }
        return md.ToString();
    }

    static string Lengths(ModelEvaluation m) => m.MinLength == m.MaxLength ? $"{m.MaxLength}" : $"{m.MinLength}..{m.MaxLength}";

    static string WithInterval(double share, ConfidenceInterval interval) => $"{Percent(share)} [{Percent(interval.Low)}, {Percent(interval.High)}]";

    static string Percent(double share) => (share * 100).ToString("F1", CultureInfo.InvariantCulture) + "%";
    static string Cell(string text) => text.Replace("|", "\\|");
}
